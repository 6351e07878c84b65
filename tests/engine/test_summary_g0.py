"""The run summary printed by ``run``/``demo`` shows G0 with its error, or an upper limit at the floor."""

from __future__ import annotations

from nanocell_daq.engine.summary import summary_lines


def test_g0_with_error_and_upper_limit():
    summary = {"run_id": 1, "status": "completed", "reason": None, "half_cycles": [], "checkpoints": [
        {"label": "pristine", "conductance_S": 7.04e-7, "conductance_err_S": 1.1e-10,
         "conductance_significant": True, "conductance_upper_limit_S": None, "nonlinearity": 1.0,
         "xc_mean": 0.19},
        {"label": "after deep discharge", "conductance_S": 2e-14, "conductance_err_S": 1e-13,
         "conductance_significant": False, "conductance_upper_limit_S": 1.845e-13, "nonlinearity": None,
         "xc_mean": None},
    ]}
    lines = summary_lines(summary)
    assert "G0 7.040e-07 S ± 1.1e-10" in lines[-2]
    assert "G0 < 1.845e-13 S (95 % upper limit)" in lines[-1] and "2.000e-14" not in lines[-1]
