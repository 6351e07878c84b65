"""Prior ProScan III stage controller (``\\r`` ASCII; moves answer ``R`` when done); fills Stage (um)."""

from __future__ import annotations

import re
from typing import Any

from pymeasure.instruments import Instrument
from pymeasure.instruments.validators import strict_range

from drivers._common import Resync, longer_timeout, with_defaults
from drivers.errors import InstrumentError, ReplyError

ERRORS = {
    1: "NO STAGE", 2: "NOT IDLE", 3: "NO DRIVE", 4: "STRING PARSE", 5: "COMMAND NOT FOUND",
    6: "INVALID SHUTTER", 7: "NO FOCUS", 8: "VALUE OUT OF RANGE", 9: "INVALID WHEEL",
    10: "ARG1 OUT OF RANGE", 11: "ARG2 OUT OF RANGE", 12: "ARG3 OUT OF RANGE", 13: "ARG4 OUT OF RANGE",
    14: "ARG5 OUT OF RANGE", 15: "ARG6 OUT OF RANGE", 16: "INCORRECT STATE", 17: "WHEEL NOT FITTED",
    18: "QUEUE FULL",
}
"""ProScan error numbers (``E,n``) -> meaning."""


class ProScanError(InstrumentError):
    """The controller answered ``E,n``."""

    def __init__(self, instrument: str, command: str, code: int) -> None:
        self.code = code
        meaning = ERRORS.get(code, "unknown error")
        super().__init__(f"{instrument}: {command!r} -> E,{code} ({meaning})")


class ProScan3(Resync, Instrument):
    """Prior ProScan III in standard mode (``COMP 0``), positions in micrometres.

    Move commands (``G``, ``GR``) block until the controller answers ``R`` at the end of the move; the
    VISA timeout is raised to ``move_timeout_ms`` for them. ``um_per_unit`` converts controller units
    (set with ``RES``) to micrometres; with the default resolution 1 unit = 1 um.

    A move that outlasts its timeout answers ``R`` later, and a garbled reply may leave bytes behind:
    :meth:`resync` (called by the engine after such a fault) discards them and reads the ``?`` block.

    :param adapter: VISA resource string (``ASRLn::INSTR``, 9600 baud) or an adapter.
    :param kwargs: forwarded to the VISA adapter (defaults: ``\\r`` terminations, 5 s timeout).
    """

    # The ``?`` block starts with "PROSCAN INFORMATION" on some firmware and lists the fitted devices
    # ("STAGE = H117") on all; either marks a ProScan controller.
    IDENTITY = re.compile(r"PROSCAN|STAGE\s*=", re.IGNORECASE)

    def __init__(self, adapter, name: str = "Prior ProScan III", move_timeout_ms: float = 120000,
                 um_per_unit: float = 1.0, **kwargs):
        kwargs = with_defaults(kwargs, read_termination="\r", write_termination="\r", timeout=5000,
                               asrl={"baud_rate": 9600})
        super().__init__(adapter, name, includeSCPI=False, **kwargs)
        self.move_timeout_ms = move_timeout_ms
        self.um_per_unit = um_per_unit

    max_speed_percent = Instrument.control(
        "SMS", "SMS,%d", """Control the stage maximum speed, percent of the maximum (1-100).""",
        validator=strict_range, values=[1, 100], cast=int, check_set_errors=True,
    )
    acceleration_percent = Instrument.control(
        "SAS", "SAS,%d", """Control the stage acceleration, percent of the maximum (1-100).""",
        validator=strict_range, values=[1, 100], cast=int, check_set_errors=True,
    )

    def check_set_errors(self) -> list[str]:
        """Property setters answer ``0`` on success or ``E,n``."""
        self._reply_ok(self.read(), "setting")
        return []

    def _reply_ok(self, reply: str, command: str) -> str:
        if reply.startswith("E,"):
            try:
                code = int(reply[2:])
            except ValueError:
                code = -1
            raise ProScanError(self.name, command, code)
        return reply

    def ask_checked(self, command: str) -> str:
        """Ask ``command``; an ``E,n`` reply raises :class:`ProScanError` with its meaning."""
        self.write(command)
        return self._reply_ok(self.read(), command)

    @property
    def id(self) -> str:
        """The ``?`` information block (up to its ``END`` line), joined with ``; ``."""
        self.write("?")
        lines = [self.read()]
        while lines[-1].strip() != "END" and len(lines) < 40:
            lines.append(self.read())
        self._reply_ok(lines[0], "?")
        return "; ".join(line.strip() for line in lines[:-1] if line.strip())

    def sync_exchange(self) -> None:
        """The ``?`` block must list a ProScan controller, up to its ``END`` line."""
        info = self.id
        if not self.IDENTITY.search(info):
            raise ReplyError(f"{self.name}: ? answered {info[:80]!r}")

    def _units(self, um: float) -> str:
        value = um / self.um_per_unit
        return f"{round(value):d}" if abs(value - round(value)) < 1e-9 else f"{value:.4f}".rstrip("0")

    def _move(self, command: str) -> None:
        with longer_timeout(self, self.move_timeout_ms):
            reply = self.ask_checked(command)
        if reply != "R":
            raise ReplyError(f"{self.name}: {command!r} ended with {reply!r}, expected 'R'")

    # --- Stage role ---------------------------------------------------------------------------------------
    def move_to(self, x_um: float, y_um: float, z_um: float | None = None) -> None:
        """Absolute move (um); returns when the controller reports the end of the move."""
        args = [self._units(x_um), self._units(y_um)]
        if z_um is not None:
            args.append(self._units(z_um))
        self._move("G," + ",".join(args))

    def move_by(self, dx_um: float, dy_um: float, dz_um: float = 0.0) -> None:
        """Relative move (um)."""
        args = [self._units(dx_um), self._units(dy_um)]
        if dz_um:
            args.append(self._units(dz_um))
        self._move("GR," + ",".join(args))

    @property
    def position(self) -> tuple[float, float, float]:
        """(x, y, z) in micrometres (``P`` -> ``x,y,z``)."""
        reply = self.ask_checked("P")
        parts = [float(v) * self.um_per_unit for v in reply.split(",")]
        while len(parts) < 3:
            parts.append(0.0)
        return parts[0], parts[1], parts[2]

    @property
    def moving(self) -> bool:
        """True while any axis moves (``$`` is a bitmap of moving axes, 0 when idle)."""
        return int(self.ask_checked("$")) != 0

    def snapshot_settings(self) -> dict[str, Any]:
        """Position (um), speed and acceleration (% of maximum), motion state (queries only)."""
        return {"position_um": list(self.position), "max_speed_percent": int(self.max_speed_percent),
                "acceleration_percent": int(self.acceleration_percent), "moving": self.moving,
                "um_per_unit": self.um_per_unit}

    def stop(self) -> None:
        """Immediate stop (``K``); the controller acknowledges with ``R``."""
        self.ask_checked("K")

    def shutdown(self) -> None:
        """Flush the link (the ``R`` of a move that outlasted its timeout must not answer the stop), then
        stop any motion (the stage has no output to switch off)."""
        try:
            self.resync()
        except ReplyError:
            pass  # still send the stop
        self.stop()
        self.isShutdown = True
