"""Conductance per segment and the contact/wire split R(L) = 2 R_c + r L on synthetic multi-contact wires."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nanocell_daq.analysis.iv_fit import fit_g0
from nanocell_daq.analysis.segments import contact_split, pad_positions, segment_length, segment_table
from tests.analysis.synthetic import sweep

PADS = {"S": {"kind": "contact", "along_wire_um": 0.0}, "C1": {"kind": "contact", "along_wire_um": 3.0},
        "C2": {"kind": "contact", "along_wire_um": 7.0}, "D": {"kind": "contact", "along_wire_um": 12.0},
        "CE": {"kind": "counter"}}
PAIRS = ("S-C1", "C1-C2", "C2-D", "S-D")


def _g0_table(rng: np.random.Generator, r_c: float, r_per_um: float, n: int) -> pd.DataFrame:
    """G0 fits of ``n`` I-V steps, one sweep per pair, ohmic segments of R = 2 r_c + r L (500 fA + 0.1 %)."""
    v = sweep(0.5, 0.05)
    pos = pad_positions(PADS)
    rows = []
    for step in range(n):
        for pair in PAIRS:
            g = 1.0 / (2 * r_c + r_per_um * segment_length(pair, pos))
            i = g * v * (1 + 1e-3 * rng.standard_normal(v.size)) + 5e-13 * rng.standard_normal(v.size)
            f = fit_g0(v, i)
            rows.append({"step_id": step, "pair": pair, "conductance_S": f.conductance_S,
                         "conductance_err_S": f.conductance_err_S, "g0_significant": f.significant,
                         "g0_upper_limit_S": f.upper_limit_S})
    return pd.DataFrame(rows)


def test_pad_positions_and_lengths():
    pos = pad_positions(None, PADS, {"S": {"along_wire_um": 99.0}, "X": {"along_wire_um": 1.0}})
    assert pos == {"S": 0.0, "C1": 3.0, "C2": 7.0, "D": 12.0, "X": 1.0}  # the first source wins
    assert segment_length("C2-S", pos) == 7.0
    assert np.isnan(segment_length("S-CE", pos)) and np.isnan(segment_length("S", pos))


def test_contact_wire_split_is_unbiased_and_covered_over_an_ensemble():
    r_c, r_per_um = 2e6, 5e5  # 2 Mohm per contact, 0.5 Mohm/um
    table = _g0_table(np.random.default_rng(21), r_c, r_per_um, 80)
    pos = pad_positions(PADS)
    splits = [contact_split(segment_table(rows, pos)) for _, rows in table.groupby("step_id")]
    assert all(s.determined and s.n_segments == 4 for s in splits)
    cases = (("contact_ohm", "contact_err_ohm", r_c), ("wire_ohm_per_um", "wire_err_ohm_per_um", r_per_um))
    for value, err, truth in cases:
        pulls = np.array([(getattr(s, value) - truth) / getattr(s, err) for s in splits])
        assert abs(pulls.mean()) < 0.3, value
        assert 0.55 < np.mean(np.abs(pulls) < 1) < 0.85, value
    frac = np.mean([s.contact_fraction for s in splits])
    assert frac == pytest.approx(4e6 / (4e6 + 12 * 5e5), rel=0.02)


def test_split_not_determined_without_two_lengths_or_positions():
    table = _g0_table(np.random.default_rng(1), 2e6, 5e5, 1)
    one_length = table[table["pair"].isin(["S-D"])]
    split = contact_split(segment_table(one_length, pad_positions(PADS)))
    assert not split.determined and "same length" in split.reason
    assert "not determined" in split.text()
    unknown = contact_split(segment_table(table, {}))
    assert not unknown.determined and "positions" in unknown.reason
    # a segment lost in the noise gives an upper limit, not a resistance
    noisy = table.copy()
    noisy.loc[noisy["pair"] != "S-D", "g0_significant"] = False
    split = contact_split(segment_table(noisy, pad_positions(PADS)))
    assert not split.determined and "significant" in split.reason
