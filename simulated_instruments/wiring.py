"""The Keithley 707B matrix of the bench and what it connects: which instrument terminal touches which pad.

Rows are instrument terminals (A = potentiostat WE, B = potentiostat CE/RE, C = SMU HI, D = SMU LO), columns
are chip pads (01 = S, 02 = D, 03 = C1, 04 = the counter film). Every crosspoint is open at power-on. The cell
sees a source only through a closed path; a pad touched by both sources while both are on is damage.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

ROW_TERMINALS = {"A": "pstat_we", "B": "pstat_ce", "C": "smu_hi", "D": "smu_lo"}
PSTAT_ROWS = ("A", "B")
SMU_ROWS = ("C", "D")
CARD_ROWS = "ABCDEFGH"  # the 7174A-like card: 8 rows x 12 columns
CARD_COLUMNS = 12


@dataclass(frozen=True)
class DamageEvent:
    """A pad driven by two sources at simulated time ``t_sim`` (s)."""

    t_sim: float
    pad: str
    reason: str


@dataclass(frozen=True)
class SourceState:
    """What an instrument drives: ``on`` and mode ``"open" | "current" (A) | "potential" (V)``."""

    on: bool = False
    mode: str = "open"
    value: float = 0.0


def column_pads(pads: dict[str, Any]) -> dict[str, str]:
    """Column ("01".."04") -> pad name, per the team's matrix wiring (S, D, C1, counter)."""
    cols: dict[str, str] = {}
    for name, pad in pads.items():
        if getattr(pad, "kind", "contact") == "counter":
            cols["04"] = name
        elif name == "S":
            cols["01"] = name
        elif name == "D":
            cols["02"] = name
        elif name == "C1":
            cols["03"] = name
    return cols


class Wiring:
    """The matrix state plus the resolution of paths; applies the resulting drive to the cell model.

    Emulators report their source state (``set_pstat``/``set_smu``); the wiring decides what the cell sees
    and calls ``model.set_drive`` only when that changes.
    """

    def __init__(self, model: Any, clock: Any) -> None:
        self.model = model
        self.clock = clock
        self.columns = column_pads(model.pads)
        self.closed: set[str] = set()
        self.pstat = SourceState()
        self.smu = SourceState()
        self.damage: list[DamageEvent] = []
        self.hot_switches: list[dict[str, Any]] = []
        """Matrix changes made while a source was on (``t_sim``, ``action``, ``channels``, ``sources``)."""
        self._conflicts: set[str] = set()
        self._drive: tuple[Any, ...] | None = None
        self._lock = threading.RLock()

    # ----- matrix -----
    def close(self, channels: set[str]) -> None:
        with self._lock:
            self._note_hot_switch("close", set(channels) - self.closed)
            self.closed |= set(channels)
            self._update()

    def open(self, channels: set[str] | None = None) -> None:
        """Open ``channels`` (all when None)."""
        with self._lock:
            changed = set(self.closed) if channels is None else self.closed & set(channels)
            self._note_hot_switch("open", changed)
            if channels is None:
                self.closed.clear()
            else:
                self.closed -= set(channels)
            self._update()

    def _note_hot_switch(self, action: str, changed: set[str]) -> None:
        """Record a crosspoint change while the SMU output or the potentiostat cell is on."""
        sources = [name for name, state in (("smu", self.smu), ("pstat", self.pstat)) if state.on]
        if changed and sources:
            self.hot_switches.append({"t_sim": float(self.clock.now()), "action": action,
                                      "channels": sorted(changed), "sources": sources})

    def pads_on(self, row: str) -> tuple[str, ...]:
        """Pads the terminal of ``row`` touches through closed crosspoints of slot 1 (sorted by column)."""
        with self._lock:
            out = []
            for ch in sorted(self.closed):
                if ch[:2] == f"1{row}" and ch[2:] in self.columns:
                    out.append(self.columns[ch[2:]])
            return tuple(out)

    def _kind(self, pad: str) -> str:
        return getattr(self.model.pads[pad], "kind", "contact")

    # ----- paths -----
    def pstat_we_pads(self) -> tuple[str, ...] | None:
        """Contact pads on WE if the cycling path is closed (WE on contacts, CE on the counter), else None."""
        we = [p for p in self.pads_on("A") if self._kind(p) == "contact"]
        ce = [p for p in self.pads_on("B") if self._kind(p) == "counter"]
        return tuple(we) if we and ce else None

    def smu_path(self) -> tuple[str, ...]:
        """``("wire", hi, lo)``, ``("cell", hi_pad)`` (HI on a contact, LO on the counter), or ``("open",)``.
        """
        hi = self.pads_on("C")
        lo = self.pads_on("D")
        hi_c = [p for p in hi if self._kind(p) == "contact"]
        lo_c = [p for p in lo if self._kind(p) == "contact"]
        if hi_c and lo_c and hi_c[0] != lo_c[0]:
            return ("wire", hi_c[0], lo_c[0])
        if hi_c and any(self._kind(p) == "counter" for p in lo):
            return ("cell", hi_c[0])
        return ("open",)

    # ----- sources -----
    def set_pstat(self, state: SourceState, t: float | None = None) -> None:
        """The potentiostat's drive from simulated time ``t`` (now by default; a sample's nominal time)."""
        with self._lock:
            self.pstat = state
            self._update(t)

    def set_smu(self, state: SourceState, t: float | None = None) -> None:
        """The SMU's drive from simulated time ``t`` (now by default; a script's time on the instrument)."""
        with self._lock:
            self.smu = state
            self._update(t)

    def _update(self, t: float | None = None) -> None:
        t = self.clock.now() if t is None else t
        self._check_damage(t)
        drive: tuple[Any, ...] = ("open", 0.0, ("S",))
        we = self.pstat_we_pads()
        path = self.smu_path()
        if self.pstat.on and we is not None and self.pstat.mode in ("current", "potential"):
            drive = (self.pstat.mode, self.pstat.value, we)
        elif self.smu.on and path[0] == "cell" and self.smu.mode == "current" and self.smu.value != 0.0:
            # (a current source held at exactly 0 A, the SMU's way to read the OCV, passes no current: the
            # cell sees open circuit, as when the potentiostat records OCP with its cell off)
            drive = ("current", self.smu.value, (path[1],))
        if drive != self._drive:
            self._drive = drive
            self.model.set_drive(t, drive[0], drive[1], we_pads=drive[2])

    def _check_damage(self, t: float) -> None:
        conflicts: set[str] = set()
        if self.pstat.on and self.smu.on:
            pst = {p for r in PSTAT_ROWS for p in self.pads_on(r)}
            smu = {p for r in SMU_ROWS for p in self.pads_on(r)}
            conflicts = pst & smu
        for pad in sorted(conflicts - self._conflicts):
            reason = f"pad {pad} driven by the potentiostat and the SMU at once (both outputs on)"
            self.damage.append(DamageEvent(t, pad, reason))
            self.model.flag_damage(t, reason)
        self._conflicts = conflicts
