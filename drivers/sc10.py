"""Thorlabs SC10 shutter controller (echo + value + ``> `` prompt); fills Shutter, with a timed exposure.

Commands (SC10 manual, "Keywords (Commands and Queries)"; shared/reference/instrument-protocols.md §4.5, §8):
``ens`` *toggles* the enable state and takes no argument (``ens=1`` is not in the manual's table and not every
firmware accepts it: InstrumentKit issue 368 / PR 370), so the driver reads ``ens?``, toggles only when the
state differs, and verifies the shutter with ``closed?``. ``mode=3`` (single) with ``open=ms`` opens the
shutter once for that time when enabled and the controller closes it by itself: :meth:`SC10.expose` uses it
so a dead host leaves the shutter open for at most one exposure.
"""

from __future__ import annotations

import re
from typing import Any

from pymeasure.instruments import Instrument

from drivers._common import Resync, with_defaults
from drivers.errors import InstrumentError, ReplyError

_PROMPT = b"> "
_ERROR_REPLIES = ("CMD_NOT_DEFINED", "CMD_ARG_INVALID")
MODES = {1: "manual", 2: "auto", 3: "single", 4: "repeat", 5: "external gate"}
MAX_OPEN_MS = 999999
"""``open=n``: n has at most 6 digits (ms)."""
_TOGGLE_ATTEMPTS = 3


class SC10(Resync, Instrument):
    """Thorlabs SC10: every command is echoed, a query then sends its value line, and every exchange
    ends with the prompt ``"> "`` (no terminator), which is drained with ``read_bytes(2)``.

    :param adapter: VISA resource string (``ASRLn::INSTR``, 9600 baud) or an adapter.
    :param timed_exposure: the Raman map may use :meth:`expose` (single mode: the controller closes the
        shutter after each exposure by itself). Set False (station option ``timed_exposure: false``) when
        the controller must stay in manual mode, e.g. when something else gates it.
    :param kwargs: forwarded to the VISA adapter (defaults: ``\\r`` terminations, 3 s timeout).
    """

    IDENTITY = re.compile(r"SC10", re.IGNORECASE)
    MAX_EXPOSURE_S = MAX_OPEN_MS / 1000.0
    """The longest timed exposure the controller can hold (s)."""

    def __init__(self, adapter, name: str = "Thorlabs SC10", timed_exposure: bool = True, **kwargs):
        kwargs = with_defaults(kwargs, read_termination="\r", write_termination="\r", timeout=3000,
                               asrl={"baud_rate": 9600})
        super().__init__(adapter, name, includeSCPI=False, **kwargs)
        self.timed_exposure = bool(timed_exposure)

    # --- the echo/value/prompt exchange -------------------------------------------------------------------
    def _exchange(self, command: str, query: bool) -> str | None:
        self.write(command)
        echo = self.read()
        if echo.lstrip("> ").strip() != command:
            raise ReplyError(f"{self.name}: sent {command!r}, echo was {echo!r}")
        value: str | None = None
        if query:
            value = self.read().strip()
            if value in _ERROR_REPLIES:
                self._drain_prompt(command)
                raise InstrumentError(f"{self.name}: {command!r} -> {value}")
        self._drain_prompt(command)
        return value

    def _drain_prompt(self, command: str) -> None:
        prompt = self.read_bytes(2)
        if prompt != _PROMPT:
            # an error reply sits where the prompt should be: read the rest of its line, then the prompt
            rest = (prompt + self.read().encode()).decode(errors="replace").strip()
            if self.read_bytes(2) != _PROMPT:
                raise ReplyError(f"{self.name}: {command!r} -> {rest!r} and no prompt")
            if rest in _ERROR_REPLIES:
                raise InstrumentError(f"{self.name}: {command!r} -> {rest}")
            raise ReplyError(f"{self.name}: {command!r} -> unexpected {rest!r}")

    def query(self, command: str) -> str:
        """``command`` (ending in ``?``) -> its value line."""
        value = self._exchange(command, query=True)
        assert value is not None
        return value

    def set(self, command: str) -> None:
        """A command without a value line, such as ``mode=3`` or ``ens`` (echo, then the prompt)."""
        self._exchange(command, query=False)

    def flag(self, command: str) -> bool:
        """A query answering ``0``/``1`` (``ens?``, ``closed?``); anything else is a torn reply."""
        value = self.query(command)
        if value not in ("0", "1"):
            raise ReplyError(f"{self.name}: {command!r} answered {value!r}, expected 0 or 1")
        return value == "1"

    def sync_exchange(self) -> None:
        """``id?`` must answer the SC10's identity (echo, value, prompt in step)."""
        reply = self.query("id?")
        if not self.IDENTITY.search(reply):
            raise ReplyError(f"{self.name}: id? answered {reply!r}")

    # --- settings -----------------------------------------------------------------------------------------
    @property
    def id(self) -> str:
        return self.query("id?")

    @property
    def enabled(self) -> bool:
        """``ens?``: True when the shutter is enabled (open in manual mode; a timed exposure running in
        single mode)."""
        return self.flag("ens?")

    @enabled.setter
    def enabled(self, value: bool) -> None:
        self._set_enabled(bool(value))

    def _set_enabled(self, value: bool) -> None:
        """``ens`` toggles: read ``ens?`` and toggle only while it differs (a single-mode exposure that ends
        between the read and the toggle would start again: the loop toggles that off too)."""
        for _ in range(_TOGGLE_ATTEMPTS):
            if self.enabled is value:
                return
            self.set("ens")
        if self.enabled is not value:
            raise InstrumentError(f"{self.name}: ens? still {int(not value)} after toggling ens "
                                  f"{_TOGGLE_ATTEMPTS} times")

    @property
    def mode(self) -> int:
        """Operating mode: 1 manual, 2 auto, 3 single, 4 repeat, 5 external gate."""
        return int(self.query("mode?"))

    @mode.setter
    def mode(self, value: int) -> None:
        if value not in MODES:
            raise ValueError(f"mode must be 1..5 (got {value!r})")
        self.set(f"mode={value}")

    @property
    def open_time_s(self) -> float:
        """``open?``: how long a timed exposure keeps the shutter open (s, ms resolution)."""
        return int(self.query("open?")) / 1000.0

    @open_time_s.setter
    def open_time_s(self, seconds: float) -> None:
        ms = round(seconds * 1000)
        if not 1 <= ms <= MAX_OPEN_MS:
            raise ValueError(f"open time must be 0.001 to {self.MAX_EXPOSURE_S:g} s (got {seconds!r})")
        self.set(f"open={ms}")

    def snapshot_settings(self) -> dict[str, Any]:
        """Enabled, mode (1 manual ... 5 external gate), open time and whether it reports closed (queries)."""
        return {"enabled": self.enabled, "mode": self.mode, "open_time_s": self.open_time_s,
                "closed": not self.is_open, "timed_exposure": self.timed_exposure}

    def _use_mode(self, mode: int) -> None:
        """Switch to ``mode`` with the shutter disabled first (a mode change never meets an open shutter)."""
        if self.mode != mode:
            self._set_enabled(False)
            self.mode = mode

    def _verify(self, want_open: bool, doing: str) -> None:
        if self.is_open is not want_open:
            state = "closed" if want_open else "open"
            raise InstrumentError(f"{self.name}: {doing}: closed? says the shutter is still {state}")

    # --- Shutter role -------------------------------------------------------------------------------------
    def open(self) -> None:
        """Open the shutter in manual mode (it stays open until :meth:`close`); verified with ``closed?``."""
        self._use_mode(1)
        self._set_enabled(True)
        self._verify(True, "open")

    def expose(self, seconds: float) -> None:
        """Open the shutter for ``seconds`` in single mode: the controller closes it by itself, whatever
        happens to the host. Returns once ``closed?`` confirms it is open."""
        ms = round(seconds * 1000)
        if not 1 <= ms <= MAX_OPEN_MS:
            raise ValueError(f"timed exposure must be 0.001 to {self.MAX_EXPOSURE_S:g} s (got {seconds!r})")
        self._use_mode(3)
        self._set_enabled(False)  # a previous exposure still running must not be toggled off by our ens
        self.set(f"open={ms}")
        self.set("ens")
        self._verify(True, f"timed exposure of {seconds:g} s")

    def close(self) -> None:
        """Close the shutter (disable it if enabled; a timed exposure may have closed it already); verified
        with ``closed?``."""
        self._set_enabled(False)
        self._verify(False, "close")

    @property
    def is_open(self) -> bool:
        """True unless the controller reports the shutter closed (``closed?`` -> 1)."""
        return not self.flag("closed?")

    def shutdown(self) -> None:
        """Flush the link, then close the shutter (verified)."""
        try:
            self.resync()
        except ReplyError:
            pass  # still try to close; the read-back in close() decides
        self.close()
        self.isShutdown = True
