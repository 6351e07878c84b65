"""Physical model of the on-chip single-nanowire cell (wire + counter film + electrolyte), pure numpy/scipy.

`load_card("si" | "h2v3o8" | path)` gives the typed parameters; `CellModel(card, seed)` evolves in
simulated time and answers what the instruments measure: cell voltage/current, source/drain I-V of the
wire between any two contacts, and Raman spectra at any stage position.
"""

from __future__ import annotations

from .card import PRESETS, Card, Pad, load_card
from .errors import CardError, CellError
from .model import CellModel, DamageEvent

__all__ = ["PRESETS", "Card", "CardError", "CellError", "CellModel", "DamageEvent", "Pad", "load_card"]
