"""A checkpoint step (I-V, Raman map) killed half-way and redone by resume: the analysis uses the completed
repeat, never the partial."""

from __future__ import annotations

import os
import signal

import pytest

from nanocell_daq.analysis.run_analysis import analyze_run
from nanocell_daq.cli import main
from nanocell_daq.errors import UserError
from nanocell_daq.storage import Store
from simulated_instruments.bench import SimulatedBench
from tests.engine import benchkit

pytestmark = pytest.mark.slow

IV_POINTS = 11
MAP_PIXELS = 5
# 5 s of settling per I-V point and 10 s exposures at speed 20: ~0.25 s and ~0.5 s of wall time per point
PROTOCOL = f"""\
protocol: checkpoint resume test
steps:
  - iv: {{label: pristine, pairs: [S-D], points: {IV_POINTS}, settle_s: 5}}
  - raman_map: {{label: pristine, mode: line, nx: {MAP_PIXELS}, exposure_s: 10}}
"""


def _points(db, kind: str) -> int:
    try:
        store = Store.open(db, create=False)
    except UserError:
        return 0
    with store:
        runs = store.runs()
        if not runs:
            return 0
        steps = [s for s in store.steps(runs[0].id) if s.kind == kind]
        if not steps:
            return 0
        if kind == "iv":
            return len(store.iv(runs[0].id, step_id=steps[0].id))
        return len(store.spectra(runs[0].id, step_id=steps[0].id))


@pytest.mark.parametrize("kind", ["iv", "raman_map"])
def test_an_interrupted_checkpoint_is_analysed_from_its_completed_repeat(tmp_path, kind):
    proto, db = tmp_path / "p.yaml", tmp_path / "runs.db"
    proto.write_text(PROTOCOL)
    with SimulatedBench(preset="si", speed=20, seed=0, smu_model="2450", ideal_pstat=True) as bench:
        station = benchkit.station_file(bench, tmp_path)
        proc = benchkit.start_cli_run(proto, station, db)
        try:
            assert benchkit.wait_until(lambda: _points(db, kind) >= 2, timeout=60), proc.poll()
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.communicate(timeout=10)
        # the killed engine's pid is gone on this host: its lease is free at once
        assert main(["resume", "1", "--db", str(db), "--station", str(station)]) == 0
        assert benchkit.outputs_on(bench) == {}

    with Store.open(db, create=False) as store:
        steps = [s for s in store.steps(1) if s.kind == kind]
        assert [s.status for s in steps] == ["interrupted", "completed"]
        repeat = steps[1]
        if kind == "iv":
            counts = [len(store.iv(1, step_id=s.id)) for s in steps]
            full = 2 * IV_POINTS  # up and back down
        else:
            counts = [len(store.spectra(1, step_id=s.id)) for s in steps]
            full = MAP_PIXELS
        assert 2 <= counts[0] < full and counts[1] == full  # the partial is kept in the store
        analysis = analyze_run(store, 1, save=False)
    (pristine,) = [c for c in analysis.checkpoints if c["label"] == "pristine"]
    used = pristine["iv_step_id"] if kind == "iv" else pristine["map_step_id"]
    assert used == repeat.id
    if kind == "iv":
        assert int((analysis.iv_points["step_id"] == used).sum()) == full
        assert {r["step_id"] for _, r in analysis.timeline.iterrows() if r["kind"] == "iv"} == {repeat.id}
    else:
        assert len(analysis.maps[used]) == full
        assert {r["step_id"] for _, r in analysis.timeline.iterrows() if r["kind"] == kind} == {repeat.id}
    assert any("redone" in w for w in analysis.warnings)
