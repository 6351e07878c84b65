"""The shipped Si protocol through the engine on the simulated bench: the analysis sees the seed's trends."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nanocell_daq.analysis.report import write_report
from nanocell_daq.analysis.run_analysis import analyze_run
from nanocell_daq.storage import Store


@pytest.mark.slow
def test_si_demo_protocol_conductance_drop_and_xc_fall(tmp_path: Path):
    from nanocell_daq.engine.service import make_plan, run_plan
    from simulated_instruments.bench import SimulatedBench

    store = Store.open(tmp_path / "demo.db")
    with SimulatedBench(preset="si", speed=20000.0, seed=0) as bench:
        station = tmp_path / "station.yaml"
        bench.write_station(station)
        overrides = {"cycles": "1", "map_points": "8", "rest_s": "10", "iv_pairs": "[S-D]"}
        plan = make_plan("si_seed", station, overrides)
        result = run_plan(plan, store)
        nominal_ah = bench.station_dict()["device"]["nominal_capacity_Ah"]
    assert result.status == "completed"
    a = analyze_run(store, result.run_id)
    labels = [c["label"] for c in a.checkpoints]
    assert labels == ["pristine", "after charge 1", "after discharge 1"]
    g = np.array([c["conductance_S"] for c in a.checkpoints])
    assert g[0] > 1e-7  # pristine: ~uS
    assert np.all(np.diff(g) < 0)  # monotonic decrease (Mai 2010, Si)
    assert g[0] / g[-1] > 100  # > 2 decades after one cycle
    assert a.checkpoints[-1]["nonlinearity"] > a.checkpoints[0]["nonlinearity"]
    xc_pristine, after = a.checkpoints[0]["xc_mean"], a.checkpoints[-1]
    # the c-Si core is consumed: a smaller Xc (or an upper limit below it), and the c-Si band loses more than
    # half its pristine intensity (Xc alone understates it: the lithiated phase has no band of its own)
    xc_after = after["xc_mean"] if np.isfinite(after["xc_mean"]) else after["xc_upper"]
    assert xc_pristine > 0.1 and xc_after < 0.8 * xc_pristine
    csi_after = after["csi_norm_upper"] if np.isfinite(after["csi_norm_upper"]) else after["csi_norm"]
    assert a.checkpoints[0]["csi_norm"] == 1.0 and csi_after < 0.5
    assert [h["direction"] for h in a.half_cycles] == ["charge", "discharge"]
    charge, discharge = (h["capacity_Ah"] for h in a.half_cycles)
    # to the voltage cut-off, short of the 1.5x guard; at 20 pA (~40 C) the stretches under the pads'
    # passivation fill only by diffusion along the wire
    assert 0.45 * nominal_ah < charge < nominal_ah
    assert 0.6 * charge < discharge < charge  # the first cycle loses some lithium (SEI, passivated stretches)
    out = write_report(store, result.run_id, tmp_path / "report.png")
    assert out.stat().st_size > 50_000
    store.close()
    # its wall time is a benchmark: `nanocell bench timings --e2e` (e2e_si_cycle_s)
