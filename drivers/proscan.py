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
    VISA timeout is raised to ``move_timeout_ms`` for them.

    Units: the controller counts in user units of ``RES,S`` um (X/Y) and ``RES,Z`` um (focus), values that
    persist from whatever program set them last (*ProScan III Manual* v1.12, sections 4.3/4.4). They are read
    at connect (:attr:`id`, or before the first motion or position query of a driver that was never
    identified), with the mode (``COMP``, section 4.2): standard mode (``0``) is required; in compatibility
    mode (``1``) the driver refuses to work unless ``set_standard_mode`` lets it send ``COMP,0``.
    ``um_per_unit``/``um_per_unit_z`` (station-file options) state what the station expects: a controller
    set otherwise is refused at connect; given without a connect they are used as they are.

    A move that outlasts its timeout answers ``R`` later, and a garbled reply may leave bytes behind:
    :meth:`resync` (called by the engine after such a fault) discards them and reads the ``?`` block.

    :param adapter: VISA resource string (``ASRLn::INSTR``, 9600 baud) or an adapter.
    :param um_per_unit: expected X/Y resolution (um per unit), or None to take the controller's.
    :param um_per_unit_z: expected focus resolution (um per unit), or None to take the controller's.
    :param set_standard_mode: switch a controller found in compatibility mode to standard (``COMP,0``).
    :param kwargs: forwarded to the VISA adapter (defaults: ``\\r`` terminations, 5 s timeout).
    """

    # The ``?`` block starts with "PROSCAN INFORMATION" on some firmware and lists the fitted devices
    # ("STAGE = H117") on all; either marks a ProScan controller.
    IDENTITY = re.compile(r"PROSCAN|STAGE\s*=", re.IGNORECASE)

    def __init__(self, adapter, name: str = "Prior ProScan III", move_timeout_ms: float = 120000,
                 um_per_unit: float | None = None, um_per_unit_z: float | None = None,
                 set_standard_mode: bool = False, **kwargs):
        for option, value in (("um_per_unit", um_per_unit), ("um_per_unit_z", um_per_unit_z)):
            if value is not None and not 0 < value <= 100:
                raise ValueError(f"{option} must be in (0, 100] um (got {value!r})")
        kwargs = with_defaults(kwargs, read_termination="\r", write_termination="\r", timeout=5000,
                               asrl={"baud_rate": 9600})
        super().__init__(adapter, name, includeSCPI=False, **kwargs)
        self.move_timeout_ms = move_timeout_ms
        self._expected_units = (um_per_unit, um_per_unit_z)
        self.set_standard_mode = bool(set_standard_mode)
        self.um_per_unit = um_per_unit
        """um per controller unit, X and Y (``RES,S``); None until read."""
        self.um_per_unit_z = um_per_unit_z
        """um per controller unit of the focus axis (``RES,Z``); None until read."""
        self._units_read = False

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
        """The ``?`` information block (up to its ``END`` line), joined with ``; ``; then the mode and
        the resolutions are read (:meth:`read_units`)."""
        info = self._info()
        if self.IDENTITY.search(info):
            self.read_units()
        return info

    def read_units(self) -> None:
        """Read ``COMP`` (standard mode required) and ``RES,S``/``RES,Z`` (um per unit) from the controller.

        Raises :class:`InstrumentError` (one line, saying what to do) for compatibility mode, an unexpected
        mode reply, or a resolution other than the station's ``um_per_unit``/``um_per_unit_z``.
        """
        mode = self.ask_checked("COMP").strip()
        if mode == "1" and self.set_standard_mode:
            self.ask_checked("COMP,0")
            mode = self.ask_checked("COMP").strip()
        if mode == "1":
            raise InstrumentError(
                f"{self.name}: the controller is in compatibility mode (COMP 1, kept from the program that "
                f"set it last); this driver needs standard mode: send 'COMP,0' (it persists) or set the "
                f"station option set_standard_mode: true")
        if mode != "0":
            raise ReplyError(f"{self.name}: COMP answered {mode!r}, expected 0 (standard) or 1 "
                             f"(compatibility)")
        units = [self._resolution("RES,S"), self._resolution("RES,Z", no_focus_ok=True)]
        for option, expected, found in zip(("um_per_unit", "um_per_unit_z"), self._expected_units, units,
                                           strict=True):
            if expected is not None and (found is None or abs(found - expected) > 1e-9 * expected):
                raise InstrumentError(
                    f"{self.name}: the station says {option} {expected:g} um but the controller's resolution "
                    f"is {'unknown (no focus drive)' if found is None else f'{found:g} um per unit'}; fix "
                    f"the station option or set the controller's RES")
        self.um_per_unit, self.um_per_unit_z = units
        self._units_read = True

    def _resolution(self, query: str, no_focus_ok: bool = False) -> float | None:
        """um per unit from ``RES,S``/``RES,Z``; None for ``RES,Z`` without a focus drive (``E,7``)."""
        try:
            reply = self.ask_checked(query)
        except ProScanError as exc:
            if no_focus_ok and exc.code == 7:
                return None
            raise
        try:
            value = float(reply)
        except ValueError:
            raise ReplyError(f"{self.name}: {query} answered {reply!r}, expected um per unit") from None
        if not 0 < value <= 100:
            raise ReplyError(f"{self.name}: {query} answered {reply!r}, not a resolution in um")
        return value

    def _scale(self) -> tuple[float, float | None]:
        """(um per unit X/Y, um per unit Z or None without a focus drive): read from the controller first
        if neither read nor given."""
        if not self._units_read and (self.um_per_unit is None or self.um_per_unit_z is None):
            self.read_units()
        assert self.um_per_unit is not None
        return self.um_per_unit, self.um_per_unit_z

    def _z_units(self, z_um: float, um_per_unit: float | None) -> str:
        if um_per_unit is None:
            raise InstrumentError(f"{self.name}: no focus drive (RES,Z answered E,7): cannot move Z")
        return self._units(z_um, um_per_unit)

    def _info(self) -> str:
        """The ``?`` information block (up to its ``END`` line), joined with ``; ``."""
        self.write("?")
        lines = [self.read()]
        while lines[-1].strip() != "END" and len(lines) < 40:
            lines.append(self.read())
        self._reply_ok(lines[0], "?")
        return "; ".join(line.strip() for line in lines[:-1] if line.strip())

    def sync_exchange(self) -> None:
        """The ``?`` block must list a ProScan controller, up to its ``END`` line."""
        info = self._info()
        if not self.IDENTITY.search(info):
            raise ReplyError(f"{self.name}: ? answered {info[:80]!r}")

    def _units(self, um: float, um_per_unit: float) -> str:
        value = um / um_per_unit
        return f"{round(value):d}" if abs(value - round(value)) < 1e-9 else f"{value:.4f}".rstrip("0")

    def _move(self, command: str) -> None:
        with longer_timeout(self, self.move_timeout_ms):
            reply = self.ask_checked(command)
        if reply != "R":
            raise ReplyError(f"{self.name}: {command!r} ended with {reply!r}, expected 'R'")

    # --- Stage role ---------------------------------------------------------------------------------------
    def move_to(self, x_um: float, y_um: float, z_um: float | None = None) -> None:
        """Absolute move (um); returns when the controller reports the end of the move."""
        xy, z = self._scale()
        args = [self._units(x_um, xy), self._units(y_um, xy)]
        if z_um is not None:
            args.append(self._z_units(z_um, z))
        self._move("G," + ",".join(args))

    def move_by(self, dx_um: float, dy_um: float, dz_um: float = 0.0) -> None:
        """Relative move (um)."""
        xy, z = self._scale()
        args = [self._units(dx_um, xy), self._units(dy_um, xy)]
        if dz_um:
            args.append(self._z_units(dz_um, z))
        self._move("GR," + ",".join(args))

    @property
    def position(self) -> tuple[float, float, float]:
        """(x, y, z) in micrometres (``P`` -> ``x,y,z``)."""
        scale = self._scale()
        reply = self.ask_checked("P")
        um_per = (scale[0], scale[0], scale[1] or 0.0)  # no focus drive: Z reads 0
        parts = [float(v) * um_per[i] for i, v in enumerate(reply.split(",")[:3])]
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
                "um_per_unit": self.um_per_unit, "um_per_unit_z": self.um_per_unit_z}

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
