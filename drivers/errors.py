"""Exceptions raised by drivers; the station layer translates them into user-facing errors."""

from __future__ import annotations


class DriverError(Exception):
    """Base class of every error a driver raises on purpose."""


class InstrumentError(DriverError):
    """The instrument reported an error (error queue entry, error reply, error line)."""


class IdentityError(DriverError):
    """The instrument answered, but its identity does not match the driver."""


class RoutingError(DriverError):
    """The switch matrix did not end up in the state that was asked for."""


class TechniqueError(DriverError):
    """A potentiostat/galvanostat technique could not start or failed while running."""


class ReplyError(InstrumentError):
    """A reply did not have the framing the protocol promises (torn block, wrong echo, junk where a prompt
    belongs): the link may still hold stale bytes, so it must be flushed before the next exchange."""
