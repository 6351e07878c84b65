"""Link faults during a run on the simulated bench: a dropped SMU link on a property read is reconnected, a
late or garbled spectrum, a shutter or stage fault is retried after the link is flushed, the data stored are
the instrument's real answers, and nothing stale is decoded on the way out."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from nanocell_daq.engine.plan import expand
from nanocell_daq.engine.protocol import parse_protocol
from nanocell_daq.engine.service import run_plan
from nanocell_daq.engine.stationview import StationView
from nanocell_daq.storage import Store
from simulated_instruments.bench import SimulatedBench
from tests.engine import benchkit

MAP = """
    steps:
      - raman_map: {{nx: 4, exposure_s: {exposure}}}
    """


def _run(tmp: Path, protocol: str, faults: list[tuple[str, str, dict[str, Any]]],
         options: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """Run ``protocol`` on a fresh bench, ``faults`` armed (aimed with ``match``) when its first step starts;
    what a user sees."""
    tmp.mkdir(parents=True, exist_ok=True)
    with SimulatedBench(preset="si", speed=400, seed=1, smu_model="2450", ideal_pstat=True) as bench:
        station = bench.station_dict()
        for name, extra in (options or {}).items():
            station["instruments"][name]["options"].update(extra)
        path = tmp / "station.yaml"
        path.write_text(yaml.safe_dump(station, sort_keys=False))
        plan = expand(parse_protocol(textwrap.dedent(protocol), "test.yaml"), StationView.from_file(path))

        def arm(level: str, message: str) -> None:
            if message.startswith("step 0 ") and message.endswith("started"):
                for instrument, kind, params in faults:
                    bench.inject(instrument, kind, **params)

        store = Store.open(tmp / "runs.db")
        result = run_plan(plan, store, on_log=arm)
        out = {
            "result": result,
            "on": benchkit.outputs_on(bench),
            "steps": [(s.kind, s.status) for s in store.steps(result.run_id)],
            "events": [e.message for e in store.events(result.run_id)],
            "iv": store.iv(result.run_id),
            "spectra": store.spectra(result.run_id),
            "pending": {name: bench.emulators[name].faults.pending() for name in bench.emulators},
            "shutter_log": [entry.command for entry in bench.emulators["shutter"].log],
        }
        store.close()
    return out


def _lit_along_the_wire(spectra: Any) -> bool:
    """Four spectra, one per pixel along the wire, each lit for its whole exposure: the wire's background
    (median ~2.5 counts at 0.2 s, 0.1 mW; ~0.1 when dark or ~1.3 when lit half the time) and its Raman band
    between 480 and 560 cm-1 (hundreds of counts; a dark spectrum sums to about 0)."""
    window = (spectra.axis > 480) & (spectra.axis < 560)
    if len(spectra.counts) != 4 or not np.all(np.diff(spectra.x_um) > 0):
        return False
    return all(np.median(c) > 2.0 and c[window].sum() > 300 for c in spectra.counts)


def test_smu_link_dropped_on_a_property_read_is_reconnected_and_the_sweep_goes_on(tmp_path):
    out = _run(tmp_path, """
        steps:
          - iv: {pairs: [S-D], points: 11}
        """, [("smu", "drop", {"match": "TRIP?"})], {"smu": {"timeout_ms": 1000}})
    assert out["pending"]["smu"] == {}, "the fault never hit a compliance read"
    assert out["result"].status == "completed", out["result"].reason
    assert len(out["iv"].V) == 22
    assert any("compliance_tripped" in m and "retrying" in m for m in out["events"])
    assert any("smu: reconnect done" in m for m in out["events"])
    assert out["on"] == {}


@pytest.mark.parametrize(("kind", "params", "options"), [
    ("garble", {}, None),  # a torn binary block: the driver leaves its rest, the guard flushes it
    ("late", {"seconds": 2.5}, {"spectrometer": {"timeout_ms": 1000}}),  # arrives after its timeout
])
def test_a_bad_spectrum_reply_is_taken_again_and_every_stored_spectrum_is_real(tmp_path, kind, params,
                                                                                 options):
    out = _run(tmp_path, MAP.format(exposure=0.2), [("spectrometer", kind, {"match": "ACQ", **params})],
               options)
    assert out["pending"]["spectrometer"] == {}
    assert out["result"].status == "completed", out["result"].reason
    assert _lit_along_the_wire(out["spectra"])
    assert any("spectrometer.acquire" in m and "retrying" in m for m in out["events"])
    assert out["on"] == {}


def test_a_spectrometer_that_keeps_answering_late_ends_the_step_naming_it(tmp_path):
    out = _run(tmp_path, MAP.format(exposure=0.2),
               [("spectrometer", "late", {"match": "ACQ", "seconds": 1.5, "count": None})],
               {"spectrometer": {"timeout_ms": 800}})
    result = out["result"]
    assert result.status == "failed" and ("raman_map", "failed") in out["steps"]
    assert "spectrometer.acquire" in result.reason and "VisaIOError" in result.reason
    assert sum("retrying" in m for m in out["events"]) == 3
    # the late spectra never reached a later query: the shutdown read the laser and shutter back as off
    assert any("every output off" in m for m in out["events"])
    assert not any("UnicodeDecodeError" in m or "could not convert" in m for m in out["events"])
    assert out["on"] == {}


@pytest.mark.parametrize(("instrument", "kind", "match"), [
    ("shutter", "garble", "mode=3"),  # the first timed exposure
    ("shutter", "drop", "open="),
    ("stage", "garble", "G,"),
    ("stage", "garble", "P"),
])
def test_shutter_and_stage_faults_are_retried(tmp_path, instrument, kind, match):
    # a dropped link shows at the read timeout (pyvisa-py waits on a closed socket): keep it short
    out = _run(tmp_path, MAP.format(exposure=0.2), [(instrument, kind, {"match": match})],
               {instrument: {"timeout_ms": 1000}})
    assert out["pending"][instrument] == {}
    assert out["result"].status == "completed", out["result"].reason
    assert _lit_along_the_wire(out["spectra"])
    assert any(f"{instrument}." in m and "retrying" in m for m in out["events"])
    assert out["on"] == {}


def test_the_map_uses_the_shutters_own_timer_unless_the_station_turns_it_off(tmp_path):
    timed = _run(tmp_path, MAP.format(exposure=0.2), [])
    assert timed["result"].status == "completed"
    assert "mode=3" in timed["shutter_log"] and any(c.startswith("open=") for c in timed["shutter_log"])
    assert timed["shutter_log"].count("ens") >= 4 and _lit_along_the_wire(timed["spectra"])
    manual = _run(tmp_path / "manual", MAP.format(exposure=0.2), [], {"shutter": {"timed_exposure": False}})
    assert manual["result"].status == "completed"
    assert "mode=3" not in manual["shutter_log"] and _lit_along_the_wire(manual["spectra"])


def test_a_timed_exposure_that_closed_before_the_spectrum_came_back_is_taken_again(tmp_path):
    """The spectrum's reply is held back 0.5 s (200 s of bench time, longer than the 80 s margin): the shutter
    has closed by itself before the host could confirm the exposure was lit throughout, so that pixel is
    taken again with twice the margin and the map goes on."""
    out = _run(tmp_path, MAP.format(exposure=0.2),
               [("spectrometer", "delay", {"match": "ACQ", "seconds": 0.5, "count": 1})])
    assert out["result"].status == "completed", out["result"].reason
    assert _lit_along_the_wire(out["spectra"])
    cut = [m for m in out["events"] if "closed itself" in m]
    assert len(cut) == 1 and "margin now 160 s" in cut[0]
    assert out["on"] == {}
