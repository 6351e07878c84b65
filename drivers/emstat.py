"""PalmSens EmStat4 over MethodSCRIPT: each role call becomes a script; fills Potentiostat and Galvanostat."""

from __future__ import annotations

import logging
import queue
import re
import threading
import time
from typing import Any

import pyvisa
from pymeasure.instruments import Instrument

from drivers import capability
from drivers import emstat_scripts as scripts
from drivers import methodscript as ms
from drivers._common import short_timeout, stream_lines, with_defaults
from drivers.errors import InstrumentError, TechniqueError
from drivers.roles import Gap, Sample

log = logging.getLogger(__name__)

_DRAIN_TIMEOUT_MS = 300
"""Read timeout while draining an orphaned script's output: the device has gone quiet after this long."""
_DRAIN_MAX_LINES = 100_000

_NO_SAMPLE = re.compile(r"^(?:[MC][0-9A-Fa-f]{4}|[L*+\-Z]|T.*)$")
"""Stream lines that carry no sample: loop/scan starts and ends, an abort echo, send_string text."""
_LOOP_START = re.compile(r"^[MC][0-9A-Fa-f]{4}$|^L$")
_MODEL = re.compile(r"^(?:es4_|mes4)(lr|hr)", re.IGNORECASE)
"""The model in a firmware line: ``es4_lr``/``es4_hr`` (EmStat4) or ``mes4lr``/``mes4hr`` (multi-channel
firmware, MultiEmStat4), as PalmSens' MethodSCRIPT example ``instrument.py`` maps firmware prefixes."""

MODELS: dict[str, tuple[str, tuple[float, float]]] = {
    "es4_lr": ("EmStat4 LR", (-3.0, 3.0)),
    "es4_hr": ("EmStat4 HR", (-6.0, 6.0)),
}
"""Firmware model prefix -> (name, applied-potential range in V) from PalmSens' EmStat4 specifications:
the LR (low current) model applies +-3 V, the HR (high range) model +-6 V. An EmStat4 names its model in the
first firmware line (``tes4_hr...``), multi-channel firmware without the underscore (``tmes4hr...``); both
map to these keys."""


class EmStat4(Instrument):
    """PalmSens EmStat4 (LR/HR) driven by MethodSCRIPT over a newline-terminated serial/socket link.

    Techniques run on the device: galvanostatic (``meas_loop_cp`` with device-side cut-offs
    ``if p > v_max breakloop``), OCP, potentiostatic (``meas_loop_ca``) and CV. A background thread
    reads the data packages; :meth:`poll` returns them as :class:`Sample` (t from the device timer).

    :param adapter: VISA resource string (``ASRLn::INSTR`` at 921600 baud, or a SOCKET) or an adapter.
    :param model: optional ``"es4_lr"`` or ``"es4_hr"`` (station-file ``options: {model: ...}``): planning
        then knows the potential range before connecting, and :attr:`id` refuses an instrument of the
        other model. Without it the range is read from the firmware identity.
    :param check_interval_s: device sampling period (s) of galvanostatic steps, whose breaks (cut-offs,
        window, capacity) act at every device sample; station-file ``options``.
    :param record_dE_V: besides every ``interval_s``, a package is sent whenever E moved this much (V).
    :param kwargs: forwarded to the VISA adapter (defaults: ``\\n`` terminations, 1 s timeout: the reader
        loops on short timeouts as PalmSens advises, so long techniques never hit the VISA timeout).
    """

    IDENTITY = re.compile(r"^(es4|mes4)", re.IGNORECASE)
    pgstat_mode_cp = 6  # EmStat4/Nexus galvanostatic mode in PalmSens' CP example
    pgstat_mode_ca = 3  # low-speed potentiostatic mode used by PalmSens' CA/CV/OCP examples
    current_range = "100n"  # default current range for CA/CV (A, MethodSCRIPT literal)

    def __init__(self, adapter, name: str = "PalmSens EmStat4", model: str | None = None,
                 check_interval_s: float = 0.05, record_dE_V: float = 0.01, **kwargs):
        range_V = self.declared_potential_range({"model": model})  # ValueError before any I/O
        if not 0 < check_interval_s <= 10:
            raise ValueError(f"check_interval_s must be in (0, 10] s (got {check_interval_s!r})")
        if not 0 < record_dE_V <= 1:
            raise ValueError(f"record_dE_V must be in (0, 1] V (got {record_dE_V!r})")
        self.check_interval_s = float(check_interval_s)
        """How often (s) the device checks a galvanostatic step's breaks (at most the step's interval)."""
        self.record_dE_V = float(record_dE_V)
        """A package is sent whenever E moved this much (V) since the last one."""
        kwargs = with_defaults(kwargs, read_termination="\n", write_termination="\n", timeout=1000,
                               asrl={"baud_rate": 921600})
        super().__init__(adapter, name, includeSCPI=False, **kwargs)
        self._lock = threading.RLock()
        self._samples: queue.SimpleQueue[Sample] = queue.SimpleQueue()
        self._reader: threading.Thread | None = None
        self._running = False
        self._error: Exception | None = None
        self._aborting = False
        self.stop_reason: str | None = None
        self.script: str | None = None
        self._window: tuple[float | None, float | None] = (None, None)
        self._last_potential: float | None = None
        self._gaps: queue.SimpleQueue[Gap] = queue.SimpleQueue()
        self._last_number: int | None = None
        self._last_t: float | None = None
        self._garbled: list[str] = []
        self._firmware: str | None = None
        self._unread_script = False
        """A script was sent but its start was not confirmed: it may run on the device unread."""
        self.orphan_aborted: str | None = None
        """Set when identifying found and aborted a script a previous (dead) host left running."""
        self.orphan_samples: list[Sample] = []
        """Data packages of that script drained while aborting it (t on its own timer), for the caller to
        store (the engine's ``record_recovered``); the caller empties the list once stored."""
        self.model = model
        self.potential_range_V: tuple[float, float] | None = range_V
        """Applied-potential range (V) of this model (Potentiostat role, optional attribute); None until
        the model is known (from the ``model`` option or the firmware identity)."""

    # --- identity -----------------------------------------------------------------------------------------
    @property
    def id(self) -> str:
        """Firmware version (``t``: two lines, the first starts with ``t``, the last ends with ``*``).

        A script left running by a host that died (kill -9: the device keeps running it, cell on) owns the
        link and answers ``t`` with its output, a busy error or nothing: it is aborted (``Z``; its
        ``on_finished`` turns the cell off), its output drained, and ``t`` asked again.
        """
        with self._lock:
            if self._running:  # our own script owns the link: never abort it to identify
                if self._firmware is None:
                    raise TechniqueError(f"{self.name}: cannot identify while a technique runs")
                return self._firmware
            for _attempt in range(3):
                self.write("t")
                first = self._read_or_none()
                if first is not None and first.startswith("t") and not ms.find_error(first):
                    break
                if not self._abort_orphan(first) and first is None:
                    self.write("t")  # silent to 't' and to 'Z': no device answers; raise the timeout
                    first = self.read()
            else:
                raise InstrumentError(f"{self.name}: no firmware reply to 't' even after aborting a running "
                                      f"script (last reply {first!r})")
            lines = [first]
            while not lines[-1].endswith("*") and len(lines) < 5:
                lines.append(self.read())
        if not first.startswith("t"):
            raise InstrumentError(f"{self.name}: unexpected reply to 't': {lines!r}")
        firmware = " ".join(lines)[1:].rstrip("*").strip()
        found = _MODEL.match(firmware)
        if found is not None:
            model = "es4_" + found.group(1).lower()
            if self.model is not None and model != self.model:
                raise InstrumentError(f"{self.name}: the station says model {self.model!r} "
                                      f"({MODELS[self.model][0]}) but the instrument is {MODELS[model][0]} "
                                      f"(firmware {firmware!r}); its potential ranges differ")
            self.model = model
            self.potential_range_V = MODELS[model][1]
        self._firmware = firmware
        return firmware

    def _read_or_none(self) -> str | None:
        """One line, or None when the device stays silent for the read timeout."""
        try:
            return self.read()
        except pyvisa.errors.VisaIOError as exc:
            if exc.error_code == pyvisa.constants.StatusCode.error_timeout:
                return None
            raise

    def _abort_orphan(self, first: str | None) -> bool:
        """Abort an orphaned script (``Z``) and read its output until the device goes quiet; log it (also
        kept in :attr:`orphan_aborted` for the caller's log). The data packages among that output (what
        the device measured while no host read it, as far as its link buffered them) are kept, decoded,
        in :attr:`orphan_samples` (t on the script's own timer). False if the device answered nothing."""
        self.write("Z")
        # until quiet: the output, the abort's reply and any reply to 't' are read
        lines = ([first] if first is not None else []) + self._drain(stop_at_end=False)
        samples = [s for line in lines if line.startswith("P") and (s := _sample(line)) is not None]
        aborted = "Z" in lines  # "Z": a script was running when the abort came; "Z!0006": none was
        ended = "" in lines  # the empty line that ends a script's output
        if not samples and not aborted and not ended:
            return bool(lines)
        self.orphan_samples.extend(samples)
        what = ("aborted a MethodSCRIPT technique left running on the device" if aborted else
                "read the output of a MethodSCRIPT technique that ran with no host reading it (it had ended)")
        self.orphan_aborted = (f"{what} (first reply to 't' was {first!r}); {len(lines)} line(s) drained, "
                               f"{len(samples)} data package(s) kept")
        log.warning("%s: %s", self.name, self.orphan_aborted)
        return True

    @classmethod
    def declared_potential_range(cls, options: dict[str, Any]) -> tuple[float, float] | None:
        """The potential range (V) station-file ``options`` declare (their ``model``), for planning;
        None when they name no model. ValueError for an unknown model."""
        model = options.get("model")
        if model is None:
            return None
        if model not in MODELS:
            raise ValueError(f"model must be one of {', '.join(MODELS)} (got {model!r})")
        return MODELS[model][1]

    @classmethod
    def declared_capability(cls, options: dict[str, Any]) -> capability.Capability | None:
        """Ranges and accuracy of the ``model`` station-file ``options`` declare, for planning; None when
        they name no model. ValueError for an unknown model."""
        if cls.declared_potential_range(options) is None:
            return None
        return capability.CAPABILITIES[options["model"]]

    @property
    def mscript_version(self) -> str:
        self.write("v")
        return self.read()[1:]

    @property
    def serial_number(self) -> str:
        self.write("i")
        return self.read()[1:]

    def snapshot_settings(self) -> dict[str, Any]:
        """Firmware, whether a technique runs, why the last one ended, and its script (queries only).

        While a script runs its output stream owns the link, so the firmware read when the driver
        identified the device is reported instead of asking again.
        """
        running = self._running
        firmware = self._firmware if running or self._firmware is not None else self.id
        settings: dict[str, Any] = {"firmware": firmware, "model": self.model,
                                    "potential_range_V": (list(self.potential_range_V)
                                                          if self.potential_range_V else None),
                                    "running": running, "stop_reason": self.stop_reason,
                                    "pgstat_mode_cp": self.pgstat_mode_cp,
                                    "pgstat_mode_ca": self.pgstat_mode_ca,
                                    "current_range": self.current_range,
                                    "check_interval_s": self.check_interval_s,
                                    "record_dE_V": self.record_dE_V}
        if self.script is not None:
            settings["last_script"] = self.script
        return settings

    # --- script compilation (pure: drivers.emstat_scripts) -----------------------------------------------
    script_galvanostatic = staticmethod(scripts.galvanostatic)
    script_ocp = staticmethod(scripts.ocp)
    script_potentiostatic = staticmethod(scripts.potentiostatic)
    script_cv = staticmethod(scripts.cv)

    # --- Galvanostat / Potentiostat roles -----------------------------------------------------------------
    def start_galvanostatic(self, current_A: float, interval_s: float, max_time_s: float,
                            v_min: float, v_max: float, *, capacity_C: float | None = None,
                            window_V: tuple[float, float] | None = None) -> None:
        """Apply ``current_A`` (A); the device checks its breaks every :attr:`check_interval_s` and stops
        itself at ``max_time_s`` (s), when E leaves the cut-offs [v_min, v_max] or the station's
        ``window_V`` (V), or when the charge it counted passes ``capacity_C`` (C). Packages come every
        ``interval_s`` and whenever E moved by :attr:`record_dE_V`."""
        _check_times(interval_s, max_time_s)
        if not v_min < v_max:
            raise ValueError(f"voltage window must have v_min < v_max (got {v_min:g}, {v_max:g})")
        if not abs(current_A) <= 10e-3:
            raise ValueError(f"|current| must be <= 10 mA (got {current_A:g} A)")
        if capacity_C is not None and not capacity_C > 0:
            raise ValueError(f"capacity_C must be > 0 (got {capacity_C!r})")
        if window_V is not None and not window_V[0] < window_V[1]:
            raise ValueError(f"window_V must be [low, high] with low < high (got {window_V!r})")
        ranges = self._capability().source["current"]
        self._run(self.script_galvanostatic(current_A, interval_s, max_time_s, v_min, v_max,
                                            mode=self.pgstat_mode_cp, check_interval_s=self.check_interval_s,
                                            record_dE_V=self.record_dE_V, capacity_C=capacity_C,
                                            window_V=window_V,
                                            current_ranges=tuple(r.full_scale for r in ranges)),
                  v_min, v_max)

    def start_ocp(self, interval_s: float, max_time_s: float) -> None:
        """Cell off; record the open-circuit potential every ``interval_s`` (s) for ``max_time_s`` (s)."""
        _check_times(interval_s, max_time_s)
        self._run(self.script_ocp(interval_s, max_time_s, mode=self.pgstat_mode_ca))

    def start_potentiostatic(self, potential_V: float, interval_s: float, max_time_s: float, *,
                             max_current_A: float | None = None) -> None:
        """Hold ``potential_V`` (V) and record the current; the device stops at |I| > ``max_current_A``."""
        _check_times(interval_s, max_time_s)
        self._check_potentials(potential_V=potential_V)
        self._run(self.script_potentiostatic(potential_V, interval_s, max_time_s, mode=self.pgstat_mode_ca,
                                             current_range=self.current_range, max_current_A=max_current_A,
                                             min_range=self._min_range()))

    def start_cv(self, e_begin: float, vertex1: float, vertex2: float, step_V: float,
                 scan_rate_V_s: float, cycles: int, *, max_current_A: float | None = None) -> None:
        """Cyclic voltammetry between the vertices (V) at ``scan_rate_V_s`` (V/s); the device stops at
        |I| > ``max_current_A`` (A)."""
        if not step_V > 0 or not scan_rate_V_s > 0:
            raise ValueError("step_V and scan_rate_V_s must be > 0")
        if not (isinstance(cycles, int) and cycles >= 1):
            raise ValueError(f"cycles must be an integer >= 1 (got {cycles!r})")
        self._check_potentials(e_begin=e_begin, vertex1=vertex1, vertex2=vertex2)
        self._run(self.script_cv(e_begin, vertex1, vertex2, step_V, scan_rate_V_s, cycles,
                                 mode=self.pgstat_mode_ca, current_range=self.current_range,
                                 max_current_A=max_current_A, min_range=self._min_range()))

    def _capability(self) -> capability.Capability:
        """This model's ranges (known from the ``model`` option or the firmware identity). While the model
        is unknown, the HR's: each of them but 100 mA exists on both models, and currents above 10 mA are
        refused anyway, so no script sets a range the device lacks."""
        return capability.CAPABILITIES.get(self.model or "", capability.EMSTAT4_HR)

    def _min_range(self) -> str:
        """The smallest current range of this model as a MethodSCRIPT literal (``1n`` LR, ``100n`` HR)."""
        return ms.si_literal(self._capability().source["current"][0].full_scale)

    def _check_potentials(self, **potentials: float) -> None:
        """Refuse (ValueError, never clip) a potential outside this model's range; identify first if the
        model is not known yet. An unknown model gets the narrowest EmStat4 range (LR, +-3 V)."""
        if self.potential_range_V is None and not self._running:
            _ = self.id
        low, high = self.potential_range_V or MODELS["es4_lr"][1]
        model = MODELS[self.model][0] if self.model in MODELS else "EmStat4 (model unknown)"
        for name, value in potentials.items():
            if not low <= value <= high:
                raise ValueError(f"{name} {value:g} V is outside the {model} potential range "
                                 f"{low:g}..{high:g} V")

    def take_gaps(self) -> list[Gap]:
        """Samples the stream lost (a garbled or missing package) since the last call, oldest first.

        A MethodSCRIPT stream cannot be asked again for a package, so a lost one is reported, never
        retried: the running number each package carries shows how many were lost and between which
        samples.
        """
        out = []
        while True:
            try:
                out.append(self._gaps.get_nowait())
            except queue.Empty:
                return out

    def poll(self) -> list[Sample]:
        """Samples decoded since the last call; then, once they are all handed out, the reader's error if it
        had one, on every call until the next technique starts (the technique is dead: a retry must not read
        as a quiet end)."""
        out = []
        while True:
            try:
                out.append(self._samples.get_nowait())
            except queue.Empty:
                break
        if self._error is not None and not out:
            raise self._error
        return out

    @property
    def running(self) -> bool:
        return self._running

    def stop(self, timeout_s: float = 10.0) -> None:
        """Abort the script (``Z``); the script's ``on_finished: cell_off`` turns the cell off.

        A script whose start reply was lost or garbled may run on the device with nobody reading it: it is
        aborted too (``Z``; ``Z!0006`` when nothing ran after all).
        """
        with self._lock:
            if not self._running:
                if self._unread_script:
                    self._abort_unread_script()
                return
            self._aborting = True
            self.write("Z")
        self.wait(timeout_s)
        self.stop_reason = "stopped"

    def cell_is_off(self) -> bool:
        """Confirm on the device that no technique runs and the cell is off.

        MethodSCRIPT has no query of the cell state, so the device is asked to run the one-line script
        ``cell_off``: accepted (``e``) and ended (empty line) means it executed it; a device busy with a
        script (ours, or one a dead host left running) answers ``e!0008`` and the cell counts as on.
        """
        with self._lock:
            if self._running:
                return False
            self.write_bytes(b"e\ncell_off\n\n")
            ack = self.read()
            while ack.startswith("Z"):  # a late abort reply
                ack = self.read()
            if ack != "e":
                self._drain_quietly()  # a busy device answers every line ("c!0008"): keep the link clean
                return False
            return self.read() == ""

    def _abort_unread_script(self) -> None:
        """Abort a script the device may run with no reader following it (its start reply was lost)."""
        if self._abort_and_drain() is not None:
            self.stop_reason = "stopped"
            log.warning("%s: aborted a technique running on the device that no reader followed", self.name)
        self._unread_script = False

    def _abort_and_drain(self) -> int | None:
        """``Z``; unless the device says nothing ran (``Z!0006``) or nothing at all, read the aborted
        script's output up to the empty line that ends it (or until the device goes quiet): the number of
        lines read; None when nothing was running."""
        self.write("Z")
        first = self._read_or_none()
        if first is None or first.startswith("Z!"):
            return None
        return 1 + (len(self._drain(stop_at_end=True)) if first != "" else 0)

    def _drain(self, *, stop_at_end: bool, max_lines: int = _DRAIN_MAX_LINES) -> list[str]:
        """Read with a short timeout until the device goes quiet (or, with ``stop_at_end``, up to the empty
        line that ends a script's output); the lines read, the empty line included."""
        lines: list[str] = []
        with short_timeout(self, _DRAIN_TIMEOUT_MS):
            while len(lines) < max_lines:
                line = self._read_or_none()
                if line is None:
                    break
                lines.append(line)
                if stop_at_end and line == "":
                    break
        return lines

    def _drain_to_script_end(self) -> None:
        """Read up to the empty line that ends a failed script (or until the device goes quiet)."""
        self._drain(stop_at_end=True)

    def _drain_quietly(self) -> None:
        """Read replies until the device is silent for a short while (at most a few lines)."""
        self._drain(stop_at_end=False, max_lines=10)

    def wait(self, timeout_s: float | None = None) -> bool:
        """Wait for the running script to end; True if it did."""
        reader = self._reader
        if reader is not None:
            reader.join(timeout_s)
            return not reader.is_alive()
        return True

    def shutdown(self) -> None:
        """Abort any script (ours, or one the device runs unread) and leave the cell off."""
        self.stop()
        self.isShutdown = True

    # --- script execution ---------------------------------------------------------------------------------
    def _run(self, lines: list[str], v_min: float | None = None, v_max: float | None = None) -> None:
        with self._lock:
            if self._running:
                raise TechniqueError(f"{self.name}: a technique is already running; stop() it first")
            self.script = "e\n" + "\n".join(lines) + "\n\n"
            # Samples of the previous technique that nobody polled would read as the new one's (their t
            # restarts at 0 with each script): a new technique starts with an empty queue. The old reader
            # has ended (not running), so nothing can add to the old queue any more.
            self._samples = queue.SimpleQueue()
            self._gaps = queue.SimpleQueue()
            self._last_number, self._last_t, self._garbled = None, None, []
            self.stop_reason = None
            self._error = None
            self._aborting = False
            # One raw write, terminators included: the empty last line starts the script (pyvisa's
            # write() would warn about a message that already ends with its termination).
            self._unread_script = True  # until the device confirms or rejects the script
            for attempt in (1, 2):
                self.write_bytes(self.script.encode("ascii"))
                ack = self.read()
                while ack.startswith("Z"):  # a late abort reply ("Z!0006": nothing was running) - skip it
                    ack = self.read()
                found = ms.find_error(ack)
                if found:
                    self._unread_script = False
                    raise TechniqueError(f"{self.name}: script rejected: !{found[0]:04X} {found[1]}")
                if ack == "e":
                    break
                # A garbled ack: the script may be running with the cell on and nobody reading it. Abort it
                # (its on_finished turns the cell off) and drain its output before trying once more.
                drained = self._abort_and_drain() or 0
                log.warning("%s: script ack garbled (%r); aborted it (%d line(s) drained), attempt %d",
                            self.name, ack, drained, attempt)
            else:
                self._unread_script = False  # aborted after each garbled ack
                raise TechniqueError(f"{self.name}: expected the script ack 'e', got {ack!r} twice; the "
                                     f"script was aborted each time")
            self._unread_script = False
            self._running = True
            self._window = (v_min, v_max)
            self._last_potential = None
            self._reader = threading.Thread(target=self._read_stream, name=f"{self.name} reader",
                                            daemon=True)
            self._reader.start()

    def _read_stream(self) -> None:
        stream_lines(self, self._handle_line)

    def _handle_line(self, line: str) -> bool:
        """Process one line of a running script's output; True when the script has ended."""
        if line == "":
            self._flush_garbled(None)
            self._finish()
            return True
        found = ms.find_error(line)
        if found:
            if self._aborting and line.startswith("Z"):
                return False
            error = TechniqueError(f"{self.name}: device error !{found[0]:04X}: {found[1]}")
            self._drain_to_script_end()  # the script's closing empty line follows its error: keep in step
            raise error
        if line.startswith("P"):
            try:
                package = ms.decode_package(line)
            except ms.MethodScriptFormatError:
                self._garbled.append(line)
                return False
            self._take_package(package)
        elif not _NO_SAMPLE.match(line):
            self._garbled.append(line)  # a line of no known form: a package may be in it
        # "M0000"/"C0000"/"L" open loops, "*", "+", "-" close them, "Z" acknowledges an abort,
        # text lines come from send_string: none of them carries a sample.
        return False

    def _take_package(self, package: ms.Package) -> None:
        t = package.get("eb")
        potential = package.get("ab", "da")
        current = package.get("ba", "db")
        t = t if t is not None else time.monotonic()
        number = package.get("ja")
        if number is not None:
            n = round(number)
            expected = 1 if self._last_number is None else self._last_number + 1
            if n > expected:
                how = (f"{len(self._garbled)} garbled line(s) from the device" if self._garbled
                       else "package(s) never arrived")
                self._gaps.put(Gap(self._last_t, t, n - expected, how))
                log.warning("%s: lost %d sample(s) between t = %s and %.6g s: %s", self.name,
                            n - expected, self._last_t, t, how)
            self._last_number = n
        self._flush_garbled(t, counted=number is not None)
        self._last_t = t
        self._samples.put(Sample(t, potential if potential is not None else float("nan"),
                                 current if current is not None else 0.0))
        self._last_potential = potential

    def _flush_garbled(self, t_next: float | None, counted: bool = False) -> None:
        """Garbled lines since the last sample: when packages carry no running number (or the script
        ended before the next one), a package may have been among them - reported as a possible gap."""
        if not self._garbled:
            return
        lines, self._garbled = self._garbled, []
        log.warning("%s: %d garbled line(s) in the stream: %r", self.name, len(lines), lines[:3])
        if not counted:
            self._gaps.put(Gap(self._last_t, t_next, None,
                               f"{len(lines)} garbled line(s) from the device (maybe a package)"))

    def _finish(self) -> None:
        if self._aborting:
            self.stop_reason = "stopped"
            return
        v_min, v_max = self._window
        last = self._last_potential
        if last is not None and v_max is not None and last > v_max:
            self.stop_reason = "v_max"
        elif last is not None and v_min is not None and last < v_min:
            self.stop_reason = "v_min"
        else:
            self.stop_reason = "max_time"


def _sample(line: str) -> Sample | None:
    """A drained data package as a Sample (device timer t), None when it carries no timer or is garbled."""
    try:
        package = ms.decode_package(line)
    except ValueError:  # a garbled line of an orphan's output: not a sample
        return None
    t = package.get("eb")
    if t is None:
        return None
    potential = package.get("ab", "da")
    current = package.get("ba", "db")
    return Sample(t, potential if potential is not None else float("nan"),
                  current if current is not None else 0.0)


def _check_times(interval_s: float, max_time_s: float) -> None:
    if not interval_s > 0:
        raise ValueError(f"interval_s must be > 0 (got {interval_s!r})")
    if not max_time_s > 0:
        raise ValueError(f"max_time_s must be > 0 (got {max_time_s!r})")
