"""The Si reference step on the simulated bench: the run measures the reference spot, logs the offset, and
the analysis puts the wire's c-Si peak back on the calibrated axis."""

from __future__ import annotations

import pytest

from nanocell_daq.analysis.run_analysis import analyze_run
from simulated_instruments.bench import SimulatedBench
from tests.engine import benchkit

PROTOCOL = """
    steps:
      - raman_reference: {exposure_s: 0.5, laser_power_mW: 0.1}
      - raman_map: {nx: 3, exposure_s: 2, laser_power_mW: 0.1, label: pristine}
    """


def test_a_reference_then_a_map_gives_calibrated_c_si_positions(tmp_path):
    with SimulatedBench(preset="si", speed=2000, seed=0) as bench:
        error = bench.emulators["spectrometer"].axis_error_cm1
        r = bench.model.card.raman  # the pristine wire's c-Si, shifted by confinement and heating at 0.1 mW
        heating = r.heating_shift_cm1_per_K * r.heating_K_per_mW * 0.1
        true_cm1 = r.si_peak_cm1 - r.si_confinement_shift_cm1 + heating
        store, result = benchkit.run(bench, tmp_path, PROTOCOL)
        assert benchkit.outputs_on(bench) == {}
    with store:
        assert result.status == "completed", result.reason
        messages = [e.message for e in store.events(result.run_id)]
        logged = [m for m in messages if m.startswith("Si reference: c-Si at")]
        assert len(logged) == 1 and f"axis offset {-error:+.1f}" in logged[0]
        a = analyze_run(store, result.run_id)
    (summary,) = a.map_summaries.values()
    assert summary["axis_offset_cm1"] == pytest.approx(-error, abs=0.05)
    assert summary["c_position_median"] == pytest.approx(true_cm1, abs=0.25)  # |error| is 0.5-1.5 cm-1
