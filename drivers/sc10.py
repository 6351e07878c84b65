"""Thorlabs SC10 shutter controller (echo + value + ``> `` prompt); fills Shutter."""

from __future__ import annotations

import re
from typing import Any

from pymeasure.instruments import Instrument

from drivers._common import with_defaults
from drivers.errors import InstrumentError

_PROMPT = b"> "
_ERROR_REPLIES = ("CMD_NOT_DEFINED", "CMD_ARG_INVALID")


class SC10(Instrument):
    """Thorlabs SC10: every command is echoed, a query then sends its value line, and every exchange
    ends with the prompt ``"> "`` (no terminator), which is drained with ``read_bytes(2)``.

    :param adapter: VISA resource string (``ASRLn::INSTR``, 9600 baud) or an adapter.
    :param kwargs: forwarded to the VISA adapter (defaults: ``\\r`` terminations, 3 s timeout).
    """

    IDENTITY = re.compile(r"SC10", re.IGNORECASE)

    def __init__(self, adapter, name: str = "Thorlabs SC10", **kwargs):
        kwargs = with_defaults(kwargs, read_termination="\r", write_termination="\r", timeout=3000,
                               asrl={"baud_rate": 9600})
        super().__init__(adapter, name, includeSCPI=False, **kwargs)

    def _exchange(self, command: str, query: bool) -> str | None:
        self.write(command)
        echo = self.read()
        if echo.lstrip("> ").strip() != command:
            raise InstrumentError(f"{self.name}: sent {command!r}, echo was {echo!r}")
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
            self.read_bytes(2)
            raise InstrumentError(f"{self.name}: {command!r} -> {rest}")

    def query(self, command: str) -> str:
        """``command`` (ending in ``?``) -> its value line."""
        value = self._exchange(command, query=True)
        assert value is not None
        return value

    def set(self, command: str) -> None:
        """A setter such as ``ens=1`` (echo, then the prompt)."""
        self._exchange(command, query=False)

    @property
    def id(self) -> str:
        return self.query("id?")

    @property
    def enabled(self) -> bool:
        """``ens?``: True when the shutter is enabled (open in manual mode)."""
        return self.query("ens?") == "1"

    @property
    def mode(self) -> int:
        """Operating mode: 1 manual, 2 auto, 3 single, 4 repeat, 5 external gate."""
        return int(self.query("mode?"))

    @mode.setter
    def mode(self, value: int) -> None:
        if value not in (1, 2, 3, 4, 5):
            raise ValueError(f"mode must be 1..5 (got {value!r})")
        self.set(f"mode={value}")

    def snapshot_settings(self) -> dict[str, Any]:
        """Enabled, mode (1 manual ... 5 external gate) and whether it reports closed (queries only)."""
        return {"enabled": self.enabled, "mode": self.mode, "closed": not self.is_open}

    # --- Shutter role -------------------------------------------------------------------------------------
    def open(self) -> None:
        """Enable (open) the shutter in manual mode."""
        if self.mode != 1:
            self.mode = 1
        self.set("ens=1")

    def close(self) -> None:
        """Disable (close) the shutter."""
        self.set("ens=0")

    @property
    def is_open(self) -> bool:
        """True unless the controller reports the shutter closed (``closed?`` -> 1)."""
        return self.query("closed?") != "1"

    def shutdown(self) -> None:
        """Close the shutter."""
        self.close()
        self.isShutdown = True
