"""Exceptions of the cell model (simulated_instruments may not import nanocell_daq: callers translate)."""

from __future__ import annotations


class CardError(ValueError):
    """A parameter card (YAML) is missing, unreadable or has a bad value; the message names file and field."""


class CellError(ValueError):
    """A call to the cell model that makes no physical sense (unknown pad, unknown drive mode, ...)."""
