"""SimulatedBench: the cell model, the wiring and every instrument emulator served on loopback sockets.

```python
with SimulatedBench(preset="si", speed=1000.0, seed=0) as bench:
    bench.resources["smu"]          # "TCPIP::127.0.0.1::PORT::SOCKET"
    bench.write_station("station.yaml")
    bench.inject("smu", "timeout")  # faults: see simulated_instruments.faults
```
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from simulated_instruments.clock import SimClock
from simulated_instruments.control import LIVE_OUTPUTS, ControlServer
from simulated_instruments.emstat import EmStat4
from simulated_instruments.emulator import Emulator, LogEntry
from simulated_instruments.faults import FaultBox, FaultError
from simulated_instruments.keithley707b import Keithley707B
from simulated_instruments.keithley2450 import Keithley2450
from simulated_instruments.keithley2600 import Keithley2600
from simulated_instruments.proscan import ProScan3
from simulated_instruments.sc10 import SC10
from simulated_instruments.server import InstrumentServer
from simulated_instruments.spectrometer import Spectrometer
from simulated_instruments.wiring import DamageEvent, Wiring

log = logging.getLogger(__name__)

INSTRUMENTS = ("smu", "pstat", "stage", "spectrometer", "shutter", "matrix")
DRIVERS = {"smu": "keithley2450", "pstat": "emstat4", "stage": "proscan3",
           "spectrometer": "nanocell_spectrometer", "shutter": "sc10", "matrix": "keithley707b"}
TERMINATION = {"smu": "\n", "pstat": "\n", "stage": "\r", "spectrometer": "\n", "shutter": "\r",
               "matrix": "\n"}
ROLES = {"source_meter": "smu", "galvanostat": "pstat", "potentiostat": "pstat", "stage": "stage",
         "spectrometer": "spectrometer", "laser": "spectrometer", "shutter": "shutter", "router": "matrix"}
PAD_COLUMNS = {"S": "01", "D": "02", "C1": "03"}
VOLTAGE_WINDOWS = {"si": [2.4, 4.05], "h2v3o8": [1.1, 3.9]}
SMU_MODELS = {"2450": (Keithley2450, "keithley2450"), "2636b": (Keithley2600, "keithley2600")}
"""``smu_model`` -> the emulator served as "smu" and the driver the station file names for it."""
DEFAULT_SMU = "2636b"
"""The shipped station: a 2636B cycles (pA source ranges from 1 nA, cut-offs in a TSP script on the
instrument) and does the I-V; the EmStat4 HR holds and sweeps (CV) through its own rows."""


class BenchError(RuntimeError):
    """Misuse of the bench (unknown instrument, not started)."""


def _load_model(preset: str | Path, seed: int) -> Any:
    from simulated_instruments.cell import CellModel, load_card

    return CellModel(load_card(str(preset)), seed=seed)


class SimulatedBench:
    """One process, six emulators, one cell; see the conventions file for the contract.

    ``smu_model`` chooses the SMU served as "smu" on the matrix rows C/D: ``"2636b"`` (the default: Keithley
    2636B, TSP, driver ``keithley2600``; it fills the galvanostat role too, cycling the cell through wiring
    ``cycling:smu``, SMU HI on S and LO on the counter film) or ``"2450"`` (Keithley 2450, SCPI; the
    EmStat4 cycles, as before).

    ``ideal_pstat=True`` serves an idealised EmStat4: its current readings carry no range offset, and the
    station file it writes declares no model for it (planning then says the capability was not checked).
    For engine tests of the MethodSCRIPT streaming paths (faults, gaps, recovery, resume) at the simulated
    wire's pA currents, which a real EmStat4 HR cannot deliver or resolve (its smallest range is 100 nA);
    never the default, never what ``nanocell sim serve`` or the demo serve.

    ``fresh_per_run=True`` resets the cell (:meth:`reset_cell`) when a new session starts: a client connects
    to an instrument while no connection to any instrument of the bench is open. A run opens its
    instruments at its start and closes them at its end, so each run starts on a pristine cell, with no
    engine-side knowledge of simulation. A ``nanocell resume`` starts a session too (its run then continues
    on a pristine cell): not for runs you mean to resume.
    """

    def __init__(self, preset: str | Path = "si", speed: float = 1000.0, seed: int = 0,
                 faults: dict[str, dict[str, dict[str, Any]]] | None = None, model: Any = None,
                 smu_model: str = DEFAULT_SMU, ideal_pstat: bool = False,
                 fresh_per_run: bool = False) -> None:
        smu_key = str(smu_model).lower()
        if smu_key not in SMU_MODELS:
            raise BenchError(f"unknown smu_model {smu_model!r}; known: {', '.join(SMU_MODELS)}")
        smu_class, smu_driver = SMU_MODELS[smu_key]
        self.smu_model = smu_key
        self.ideal_pstat = bool(ideal_pstat)
        self.drivers = {**DRIVERS, "smu": smu_driver}
        """Instrument name -> the driver name the station file gives it."""
        self.preset = str(preset)
        self.seed = seed
        self.clock = SimClock(speed)
        self.model = model if model is not None else _load_model(preset, seed)
        self.max_wire_current_A = 0.0
        """The largest |I| (A) the SMU measured through the wire so far."""
        self._track_wire_current()
        self.wiring = Wiring(self.model, self.clock)
        self._fault_boxes = {name: FaultBox(name) for name in INSTRUMENTS}
        self.travel_um = self._travel()
        fb = self._fault_boxes
        shutter = SC10("shutter", self.clock, fb["shutter"])
        stage = ProScan3("stage", self.clock, fb["stage"], self.travel_um)
        self.emulators: dict[str, Emulator] = {
            "smu": smu_class("smu", self.clock, fb["smu"], model=self.model, wiring=self.wiring,
                             seed=seed + 1),
            "pstat": EmStat4("pstat", self.clock, fb["pstat"], model=self.model, wiring=self.wiring,
                             seed=seed + 2, ideal=ideal_pstat),
            "stage": stage,
            "spectrometer": Spectrometer("spectrometer", self.clock, fb["spectrometer"], model=self.model,
                                         position=stage.position, shutter_open=shutter.is_open,
                                         shutter_fraction=shutter.open_fraction, seed=seed + 3),
            "shutter": shutter,
            "matrix": Keithley707B("matrix", self.clock, fb["matrix"], self.wiring),
        }
        self.fresh_per_run = bool(fresh_per_run)
        """Reset the cell when a new session starts (see :meth:`_on_connect`)."""
        self.cell_resets = 0
        self.on_cell_reset: Callable[[str, dict[str, Any]], None] | None = None
        """Told (why, state after) after each reset of the cell (``sim serve`` prints it)."""
        self._session_lock = threading.Lock()
        self._session: list[Any] = []
        """Connections of the current session (any instrument)."""
        self._servers = {name: InstrumentServer(emu, seed=seed + 10 + i, on_connect=self._on_connect)
                         for i, (name, emu) in enumerate(self.emulators.items())}
        self.control = ControlServer(self)
        """Loopback endpoint of ``nanocell sim state`` / ``sim fault`` (``simulated_instruments.control``)."""
        self._started = False
        for name, kinds in (faults or {}).items():
            for kind, params in kinds.items():
                self.inject(name, kind, **(params or {}))

    def _track_wire_current(self) -> None:
        """Wrap the model's ``wire_current`` (what every SMU reading through the wire asks) to keep its
        largest magnitude in :attr:`max_wire_current_A`."""
        measure = self.model.wire_current

        def tracked(*args: Any, **kwargs: Any) -> Any:
            amps = measure(*args, **kwargs)
            self.max_wire_current_A = max(self.max_wire_current_A, abs(float(amps)))
            return amps

        self.model.wire_current = tracked

    def _travel(self) -> dict[str, tuple[float, float]]:
        xs = [self.model.wire_start_um[0], self.model.wire_end_um[0]]
        ys = [self.model.wire_start_um[1], self.model.wire_end_um[1]]
        return {"x": (min(0.0, min(xs) - 100.0), max(1000.0, max(xs) + 100.0)),
                "y": (min(0.0, min(ys) - 100.0), max(1000.0, max(ys) + 100.0)),
                "z": (-50.0, 50.0)}

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> SimulatedBench:
        if not self._started:
            for server in self._servers.values():
                server.start()
            self.control.start()
            self._started = True
        return self

    def stop(self) -> None:
        self.control.stop()
        for emu in self.emulators.values():
            emu.stop()
        for server in self._servers.values():
            server.stop()
        self._started = False

    def __enter__(self) -> SimulatedBench:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ a pristine cell
    def busy(self) -> list[str]:
        """What is live on the bench (outputs on, a technique or script running, crosspoints closed)."""
        found = [f"{name} output on" for name in LIVE_OUTPUTS if self.emulators[name].output_on()]
        if getattr(self.emulators["pstat"], "running", False):
            found.append("a potentiostat technique running")
        if getattr(self.emulators["smu"], "script_running", False):
            found.append("an SMU script running")
        with self.wiring._lock:
            closed = sorted(self.wiring.closed)
        if closed:
            found.append(f"matrix closed {', '.join(closed)}")
        return found

    def reset_cell(self, why: str = "requested", wait_s: float = 0.0) -> dict[str, Any]:
        """Make the cell pristine again (the chip as the bench started it: same card and seed) and forget
        the chip's damage and wire-current record; the state read back after the reset. BenchError while
        anything is live on the bench (a run is using it) after ``wait_s`` wall seconds (a script or
        technique a run just stopped may take a moment to end)."""
        deadline = time.monotonic() + wait_s
        while (busy := self.busy()) and time.monotonic() < deadline:
            time.sleep(0.05)
        if busy:
            raise BenchError(f"the cell cannot be reset while a run may be using the bench "
                             f"({'; '.join(busy)})")
        reset = getattr(self.model, "reset", None)
        if reset is None:
            raise BenchError("this bench's cell model cannot be reset")
        reset()
        with self.wiring._lock:
            self.wiring.damage.clear()
            self.wiring.hot_switches.clear()
            self.wiring._drive = None  # the next matrix or source change applies its drive to the new cell
        self.max_wire_current_A = 0.0
        self.cell_resets += 1
        state = self.cell_state()
        if self.on_cell_reset is not None:
            self.on_cell_reset(why, state)
        return state

    def cell_state(self) -> dict[str, Any]:
        """The cell as the model has it now: OCV, noiseless zero-bias conductance S-D, crystalline fraction,
        cycles, counter film, damage; and how many times it was reset."""
        t = self.clock.now()
        snap = self.model.snapshot()
        out = {"t_sim": float(t), "ocv_cell_V": snap.get("ocv_cell_V"),
               "g0_S_D_S": float(self.model.wire_conductance(t, "S", "D")),
               "full_cycles": snap.get("full_cycles"), "counter_sto": snap.get("counter_sto"),
               "damage_events": len(self.damage), "resets": self.cell_resets}
        for key in ("crystalline_fraction_core", "x_li_per_fu"):
            if key in snap:
                out[key] = snap[key]
        return _plain(out)

    def _on_connect(self, conn: Any) -> None:
        """A client connected (before any of its commands is read). With ``fresh_per_run``, a connection
        while no other to any instrument of the bench is open starts a new session, and the cell is reset
        first (not while anything is live: a supervisor reaching a bench its dead engine left on finds the
        cell as it was)."""
        if not self.fresh_per_run:
            return
        with self._session_lock:
            alive = [c for c in self._session if not c.closed]
            self._session = [*alive, conn]
            if alive:
                return  # this connection joins the running session
            try:
                self.reset_cell("new session")
            except BenchError as exc:
                log.warning("fresh cell per run: not reset: %s", exc)

    # ------------------------------------------------------------------ inspection
    @property
    def resources(self) -> dict[str, str]:
        if not self._started:
            raise BenchError("the bench is not started (call start() or use it as a context manager)")
        return {name: server.resource for name, server in self._servers.items()}

    def _emulator(self, name: str) -> Emulator:
        if name not in self.emulators:
            raise BenchError(f"unknown instrument {name!r}; known: {', '.join(self.emulators)}")
        return self.emulators[name]

    def log(self, name: str) -> list[LogEntry]:
        """Commands ``name`` was told, oldest first (a copy)."""
        emu = self._emulator(name)
        with emu.lock:
            return list(emu.log)

    def errors(self, name: str) -> list[str]:
        """Errors ``name`` raised (unknown commands, bad arguments, injected), oldest first."""
        emu = self._emulator(name)
        with emu.lock:
            return list(emu.errors)

    def output_on(self, name: str) -> bool:
        """SMU output / potentiostat cell on / laser emitting / shutter open / stage moving / a crosspoint
        closed."""
        emu = self._emulator(name)
        with emu.lock:
            return emu.output_on()

    def inject(self, instrument: str, fault: str, **params: Any) -> None:
        """Add a fault (see ``simulated_instruments.faults``); ``count=None`` keeps it until cleared."""
        self._emulator(instrument)
        if fault == "compliance_trip" and instrument != "smu":
            raise FaultError("compliance_trip applies to the smu only")
        if fault == "stage_limit" and instrument != "stage":
            raise FaultError("stage_limit applies to the stage only")
        self._fault_boxes[instrument].add(fault, **params)

    def pending_faults(self, instrument: str) -> dict[str, dict[str, Any]]:
        """Faults still pending on ``instrument`` (kind -> parameters)."""
        self._emulator(instrument)
        return self._fault_boxes[instrument].pending()

    def clear_faults(self, instrument: str | None = None) -> None:
        for name, box in self._fault_boxes.items():
            if instrument in (None, name):
                box.clear()

    @property
    def damage(self) -> list[DamageEvent]:
        return list(self.wiring.damage)

    # ------------------------------------------------------------------ station file
    def station_dict(self) -> dict[str, Any]:
        """A complete station file (team format) naming this bench's resources, wirings and limits."""
        res = self.resources
        instruments: dict[str, Any] = {}
        for name in INSTRUMENTS:
            term = TERMINATION[name]
            timeout = 20000 if name in ("spectrometer", "smu") else 5000
            instruments[name] = {"driver": self.drivers[name], "resource": res[name],
                                 "options": {"timeout_ms": timeout, "read_termination": term,
                                             "write_termination": term}}
        # the model decides the potentiostat's range, so `nanocell check` can refuse a hold beyond it
        if not self.ideal_pstat:
            instruments["pstat"]["options"]["model"] = "es4_hr"
        roles = dict(ROLES)
        if self.smu_model == "2636b":
            instruments["smu"]["options"]["model"] = "2636B"
            roles["galvanostat"] = "smu"
        pads: dict[str, Any] = {}
        counter = None
        for pad_name, pad in self.model.pads.items():
            if pad.kind == "counter":
                pads[pad_name] = {"kind": "counter"}
                counter = pad_name
            else:
                pads[pad_name] = {"kind": "contact", "along_wire_um": float(pad.along_wire_um)}
        wirings: dict[str, Any] = {
            "cycling": {"instrument": "pstat", "channels": ["1A01", "1B04"], "pads": ["S", counter]}}
        if self.smu_model == "2636b":  # the SMU cycles: its rows on S and the counter film
            wirings["cycling:smu"] = {"instrument": "smu", "channels": [f"1C{PAD_COLUMNS['S']}", "1D04"],
                                      "pads": ["S", counter]}
        pairs = [("S", "D")]
        if "C1" in self.model.pads:
            pairs += [("S", "C1"), ("C1", "D")]
        limits_wirings: dict[str, Any] = {}
        for hi, lo in pairs:
            key = f"conductance:{hi}-{lo}"
            wirings[key] = {"instrument": "smu", "channels": [f"1C{PAD_COLUMNS[hi]}", f"1D{PAD_COLUMNS[lo]}"],
                            "pads": [hi, lo]}
            limits_wirings[key] = {"max_current_A": 1.0e-6, "max_voltage_V": 1.0}
        info = dict(self.model.device_info())
        window = info.pop("voltage_window_V", None) or VOLTAGE_WINDOWS.get(self.preset.lower(), [2.4, 4.05])
        device = {k: v for k, v in info.items() if k in ("chip", "wire", "materials", "dimensions")}
        device.setdefault("chip", f"SIM-{Path(self.preset).stem.upper()}-01")
        device["nominal_capacity_Ah"] = float(self.model.nominal_capacity_Ah)
        device["wire_position_um"] = {"start": [float(v) for v in self.model.wire_start_um[:2]],
                                      "end": [float(v) for v in self.model.wire_end_um[:2]],
                                      "z": float(self.model.wire_z_um)}
        ref = self.emulators["spectrometer"].reference_um  # a Si reference piece (spectrometer.py)
        if ref is not None:
            device["si_reference_um"] = {"x": ref[0], "y": ref[1], "z": ref[2]}
        return {
            "name": f"simulated bench ({Path(self.preset).stem})",
            "simulation": {"speed": self.clock.speed, "control": self.control.address},
            "instruments": instruments,
            "roles": roles,
            "device": _plain(device),
            "pads": pads,
            "wirings": wirings,
            "limits": {
                "cycling": {"max_current_A": 1.0e-9, "voltage_window_V": [float(v) for v in window]},
                "wirings": limits_wirings,
                "max_laser_power_mW": 0.5,
                "stage_travel_um": {axis: [float(a), float(b)] for axis, (a, b) in self.travel_um.items()},
            },
        }

    def write_station(self, path: str | Path) -> Path:
        out = Path(path)
        tmp = out.with_name(out.name + ".tmp")
        tmp.write_text("# written by the simulated bench; resources change on every start\n"
                       + yaml.dump(self.station_dict(), Dumper=_StationDumper, sort_keys=False,
                                   allow_unicode=True))
        tmp.replace(out)  # atomic: a reader never sees half a file
        return out


class _StationDumper(yaml.SafeDumper):
    """Writes strings with control characters (terminations) as short double-quoted scalars: "\\n"."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = '"' if any(c in value for c in "\r\n\t") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_StationDumper.add_representer(str, _represent_str)


def _plain(value: Any) -> Any:
    """numpy scalars/arrays and tuples -> plain YAML types."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist"):
        return value.tolist()
    return value
