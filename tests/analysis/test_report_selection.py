"""A week-long run's report: graphics and tables show an evenly spread selection of its ~100 checkpoints and
cycles (first and last included) and say how many they show."""

from __future__ import annotations

import numpy as np

from nanocell_daq.analysis.report import MAX_TABLE_ROWS, _checkpoint_rows, _footnotes, shown_text, spread
from nanocell_daq.analysis.run_analysis import AnalysisParams, RunAnalysis


def test_spread_keeps_first_and_last_and_everything_when_few():
    assert spread(list(range(5)), 12) == [0, 1, 2, 3, 4]
    picked = spread(list(range(125)), 12)
    assert len(picked) == 12 and picked[0] == 0 and picked[-1] == 124
    assert picked == sorted(set(picked))
    gaps = set(np.diff(picked).tolist())
    assert max(gaps) - min(gaps) <= 1  # evenly spread
    assert shown_text(12, 125, "maps") == " (12 of 125 maps, evenly spread)"
    assert shown_text(5, 5, "maps") == ""


def test_the_checkpoint_table_of_a_long_run_shows_a_selection_and_says_so():
    checkpoints = [{"label": f"after half-cycle {k}", "cycle": k // 2, "step_ids": [k], "conductance_S": 1e-9,
                    "nonlinearity": 1.0, "rectification": 1.0, "xc_mean": 0.5,
                    "contact_split": {"text": f"split {k}"}} for k in range(125)]
    a = RunAnalysis(run_id=1, run={}, params=AnalysisParams(), checkpoints=checkpoints,
                    notes=[f"note {k}" for k in range(30)])
    _header, rows = _checkpoint_rows(a)
    assert len(rows) == MAX_TABLE_ROWS
    assert rows[0][0] == "after half-cycle 0" and rows[-1][0] == "after half-cycle 124"
    notes = "\n".join(_footnotes(a))
    assert f"{MAX_TABLE_ROWS} of 125 checkpoints" in notes
    assert "split 0" in notes and "more checkpoints" in notes and "26 more notes" in notes
    assert len(_footnotes(a)) < 15  # not one line per checkpoint
