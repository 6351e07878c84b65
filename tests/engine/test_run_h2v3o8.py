"""End to end on the simulated H2V3O8 bench: shallow discharge is reversible, deep discharge is not."""

from __future__ import annotations

import pytest

from simulated_instruments.bench import SimulatedBench
from tests.engine import benchkit

pytestmark = pytest.mark.slow


def test_shallow_loss_recovers_deep_loss_stays(tmp_path):
    with SimulatedBench(preset="h2v3o8", speed=2000, seed=0) as bench:
        store, result = benchkit.run(
            bench, tmp_path, "h2v3o8_shallow_deep", {"iv_pairs": "[S-D]", "iv_points": "11"}
        )
        assert result.status == "completed", result.reason
        g = {
            label: benchkit.g0(store, result.run_id, label)
            for label in ("pristine", "after shallow discharge", "after shallow charge", "after charge")
        }
        assert benchkit.outputs_on(bench) == {}
    assert g["pristine"] / g["after shallow discharge"] > 30  # ~2 decades down
    assert g["after shallow charge"] > 0.2 * g["pristine"]  # reversible
    assert g["after charge"] < 0.01 * g["pristine"]  # deep: permanent
