"""Princeton Instruments / Acton SpectraPro monochromator (SP-2150i/2300i/2500i), serial ASCII protocol.

Framing (SP-2150i manual, "RS-232/USB command set", as quoted in public drivers; instrument-protocols.md
§4.4): 9600 baud 8N1; a command is one line ended by CR; a parameter precedes its command, separated by a
space (``546.7 GOTO``). The controller echoes every character it receives and answers when the command has
*completed* with ``" ok"`` CR LF (20 6F 6B 0D 0A), so a move's reply only comes once the grating stopped.
Transcripts from a controller (public repository code found with the ``search`` tool; reference only):

- ``?NM``        -> ``?NM 749.998 nm  ok\\r\\n``
- ``?GRATING``   -> ``?GRATING 2  ok\\r\\n``
- ``2 GRATING``  -> ``2 GRATING  ok\\r\\n``
- ``750.0NM``    -> ``750.0NM 750.0NM ? \\r\\n`` (a word it does not know: echoed back with ``?``, no ok)
- ``?GRATINGS``  -> the echo line, then one line per grating position (``\\x1a`` marks the current one:
  ``\\x1a 1  600 g/mm BLZ=  750NM``, `` 7  Not Installed``), then `` ok`` (yaqd-acton ``ActonMono``
  reads until ``ok\\r\\n`` and drops the first and the ``ok`` lines; laserlab/ActonPy ``actonpy.py``;
  ScopeFoundry ``HW_acton_spec``).

Mechanical wavelength limit: 1400 nm with a 1200 g/mm grating, scaling with 1/groove density
(``11200 * 150 / g`` nm, as yaqd-acton derives its limits from the manual). Grating positions 1..9 (three
turrets of three). The driver reads line by line (``\\n``) until the ``ok`` line, so an error reply or a
line without ``ok`` is reported at once instead of waiting out a timeout.

It is a spectrograph controller, not a :class:`~drivers.roles.Spectrometer` (it acquires nothing): it is
registered with no role.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from pymeasure.instruments import Instrument

from drivers._common import Resync, longer_timeout, with_defaults
from drivers.errors import InstrumentError, ReplyError

GRATING_POSITIONS = range(1, 10)
LIMIT_NM_G_PER_MM = 11200.0 * 150.0
"""Mechanical limit: the highest wavelength (nm) times the groove density (g/mm) of the grating in use."""
MAX_WAVELENGTH_NM = LIMIT_NM_G_PER_MM / 150.0
"""The highest wavelength (nm) of any grating (150 g/mm); the grating in use may allow less."""
_OK = "ok"
_CURRENT_MARK = "\x1a"
_MAX_LINES = 32  # ?GRATINGS lists 9 positions; a controller that never says ok must not hang the driver
_NM_REPLY = re.compile(r"^(-?\d+(?:\.\d*)?)\s*nm$", re.IGNORECASE)
_GRATING_LINE = re.compile(
    r"^(?P<mark>\x1a)?\s*(?P<n>\d)\s+(?:(?P<g>\d+(?:\.\d*)?)\s*g/mm\s+BLZ=\s*(?P<blaze>\S+)"
    r"|(?P<none>Not Installed)|(?P<mirror>Mirror))", re.IGNORECASE)


def max_wavelength_nm(grooves_per_mm: float) -> float:
    """The highest wavelength (nm) a grating of ``grooves_per_mm`` can be turned to."""
    return LIMIT_NM_G_PER_MM / grooves_per_mm


@dataclass(frozen=True)
class Grating:
    """One turret position from ``?GRATINGS``: ``grooves_per_mm`` None when none is installed there."""

    position: int
    grooves_per_mm: float | None
    blaze: str | None
    current: bool

    @property
    def installed(self) -> bool:
        return self.grooves_per_mm is not None


def parse_gratings(lines: list[str]) -> list[Grating]:
    """The ``?GRATINGS`` body lines -> gratings; a line of none of the documented forms is a ReplyError."""
    found = []
    for line in lines:
        text = line.strip(" \r\n\t")
        if not text:
            continue
        m = _GRATING_LINE.match(text)
        if m is None:
            raise ReplyError(f"?GRATINGS: cannot read grating line {line!r}")
        grooves = float(m["g"]) if m["g"] else None
        found.append(Grating(int(m["n"]), grooves, m["blaze"], m["mark"] is not None))
    return found


class SpectraPro(Resync, Instrument):
    """Acton SpectraPro monochromator/spectrograph (SP-2150i, SP-2300i, SP-2500i).

    :param adapter: VISA resource (``ASRLn::INSTR`` at 9600 8N1, or a socket to its emulator) or an adapter.
    :param kwargs: forwarded to the VISA adapter (defaults: read ``\\n``, write ``\\r``, 5 s timeout).
    """

    IDENTITY = re.compile(r"SP-?\d|SpectraPro|Acton", re.IGNORECASE)
    MOVE_TIMEOUT_MS = 60_000
    """A wavelength move answers only when done (a full-range slew takes seconds)."""
    GRATING_TIMEOUT_MS = 120_000
    """A grating change turns the turret and takes up to about 20 s."""
    WAVELENGTH_TOLERANCE_NM = 0.1
    """How far ``?NM`` may read from the target after a move before the move counts as failed."""

    def __init__(self, adapter, name: str = "Acton SpectraPro", **kwargs: Any):
        kwargs = with_defaults(kwargs, read_termination="\n", write_termination="\r", timeout=5000,
                               asrl={"baud_rate": 9600})
        super().__init__(adapter, name, includeSCPI=False, **kwargs)
        self._gratings: list[Grating] | None = None

    # --- the echo ... ok exchange -------------------------------------------------------------------------
    def _line(self, command: str) -> str:
        line = self.read().rstrip("\r\n")
        if line.rstrip().endswith("?"):
            raise InstrumentError(f"{self.name}: {command!r} refused: {line.strip()!r}")
        return line

    def _exchange(self, command: str) -> str:
        """Send ``command``; the text between its echo and ``ok`` (stripped). An error reply (``?``) is an
        InstrumentError; a reply without the echo or without ``ok`` a ReplyError."""
        self.write(command)
        line = self._line(command)
        if not line.startswith(command):
            raise ReplyError(f"{self.name}: sent {command!r}, reply {line!r} does not echo it")
        body = line[len(command):].rstrip()
        if not body.endswith(" " + _OK) and body != _OK:
            raise ReplyError(f"{self.name}: {command!r} -> {line!r} without ' ok'")
        return body[:-len(_OK)].strip()

    def ask_value(self, command: str) -> str:
        """A query such as ``?NM`` -> its value text (``"749.998 nm"``)."""
        return self._exchange(command)

    def command(self, command: str) -> None:
        """A command with no value (``2 GRATING``); its ``ok`` means it completed. A value is a ReplyError."""
        value = self._exchange(command)
        if value:
            raise ReplyError(f"{self.name}: {command!r} answered {value!r}, expected only ' ok'")

    def sync_exchange(self) -> None:
        """``MODEL`` must answer a SpectraPro model (echo and ok in step)."""
        model = self.model
        if not self.IDENTITY.search(model):
            raise ReplyError(f"{self.name}: MODEL answered {model!r}")

    # --- identity -----------------------------------------------------------------------------------------
    @property
    def model(self) -> str:
        """``MODEL``: the model number, e.g. ``SP-2-150i``."""
        return self.ask_value("MODEL")

    @property
    def serial_number(self) -> str:
        """``SERIAL``: the controller's serial number."""
        return self.ask_value("SERIAL")

    @property
    def id(self) -> str:
        """``MODEL`` and ``SERIAL``, e.g. ``SP-2-150i 21501234``."""
        return f"{self.model} {self.serial_number}"

    # --- wavelength ---------------------------------------------------------------------------------------
    @property
    def wavelength_nm(self) -> float:
        """``?NM``: the wavelength at the centre of the exit (nm)."""
        value = self.ask_value("?NM")
        m = _NM_REPLY.match(value)
        if m is None:
            raise ReplyError(f"{self.name}: ?NM answered {value!r}, expected '<number> nm'")
        return float(m.group(1))

    @wavelength_nm.setter
    def wavelength_nm(self, nm: float) -> None:
        self.goto(nm)

    def wavelength_limit_nm(self) -> float:
        """The highest wavelength (nm) the grating in use can reach (from ``?GRATINGS``, read once)."""
        current = [g for g in self.gratings() if g.current]
        if len(current) != 1 or current[0].grooves_per_mm is None:
            raise InstrumentError(f"{self.name}: ?GRATINGS shows no installed grating in use")
        return max_wavelength_nm(current[0].grooves_per_mm)

    def goto(self, nm: float) -> float:
        """Move to ``nm`` at full speed (``<nm> GOTO``; the controller answers when the move is done), then
        read ``?NM`` back; returns it. ValueError outside 0..the grating's limit; InstrumentError if the
        read-back is off by more than :attr:`WAVELENGTH_TOLERANCE_NM`."""
        if isinstance(nm, bool) or not isinstance(nm, int | float) or math.isnan(nm):
            raise ValueError(f"wavelength must be a number of nm (got {nm!r})")
        limit = self.wavelength_limit_nm()
        if not 0.0 <= nm <= limit:
            raise ValueError(f"wavelength must be 0 to {limit:g} nm with this grating (got {nm!r})")
        with longer_timeout(self, self.MOVE_TIMEOUT_MS):
            self.command(f"{nm:.3f} GOTO")
        reached = self.wavelength_nm
        if abs(reached - nm) > self.WAVELENGTH_TOLERANCE_NM:
            raise InstrumentError(f"{self.name}: moved to {nm:g} nm but ?NM reads {reached:g} nm")
        return reached

    # --- gratings -----------------------------------------------------------------------------------------
    @property
    def grating(self) -> int:
        """``?GRATING``: the grating position in use (1..9)."""
        value = self.ask_value("?GRATING")
        if not value.isdigit() or int(value) not in GRATING_POSITIONS:
            raise ReplyError(f"{self.name}: ?GRATING answered {value!r}, expected 1..9")
        return int(value)

    @grating.setter
    def grating(self, position: int) -> None:
        self.select_grating(position)

    def select_grating(self, position: int) -> None:
        """``<n> GRATING`` (the turret turns; the controller answers when done), then ``?GRATING`` must read
        ``n`` back. ValueError for a position that is not 1..9 or has no grating installed."""
        if isinstance(position, bool) or not isinstance(position, int) or position not in GRATING_POSITIONS:
            raise ValueError(f"grating must be a position 1..9 (got {position!r})")
        installed = {g.position for g in self.gratings() if g.installed}
        if position not in installed:
            raise ValueError(f"no grating is installed at position {position} "
                             f"(installed: {', '.join(map(str, sorted(installed))) or 'none'})")
        self._gratings = None  # the current mark moves
        with longer_timeout(self, self.GRATING_TIMEOUT_MS):
            self.command(f"{position} GRATING")
        reached = self.grating
        if reached != position:
            raise InstrumentError(f"{self.name}: asked for grating {position}, ?GRATING reads {reached}")

    def gratings(self, refresh: bool = False) -> list[Grating]:
        """``?GRATINGS``: every turret position, which one is in use (read once, then cached)."""
        if self._gratings is None or refresh:
            self.write("?GRATINGS")
            first = self._line("?GRATINGS")
            if not first.startswith("?GRATINGS"):
                raise ReplyError(f"{self.name}: sent '?GRATINGS', reply {first!r} does not echo it")
            body: list[str] = []
            for _ in range(_MAX_LINES):
                line = self._line("?GRATINGS")
                if line.strip() == _OK:
                    break
                body.append(line)
            else:
                raise ReplyError(f"{self.name}: ?GRATINGS sent {_MAX_LINES} lines without ' ok'")
            self._gratings = parse_gratings(body)
            if sum(g.current for g in self._gratings) > 1:
                raise ReplyError(f"{self.name}: ?GRATINGS marks more than one grating as in use")
        return list(self._gratings)

    def snapshot_settings(self) -> dict[str, Any]:
        """Model, serial number, grating in use and wavelength (queries)."""
        return {"model": self.model, "serial": self.serial_number, "grating": self.grating,
                "wavelength_nm": self.wavelength_nm}

    def shutdown(self) -> None:
        """Nothing to make safe (no output, no light source): flush the link so a late reply is not left."""
        try:
            self.resync()
        except (ReplyError, InstrumentError):
            pass
        self.isShutdown = True
