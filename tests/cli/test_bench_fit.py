"""``nanocell bench fit``: both paths timed on a tiny map; the last line one JSON object with the figures."""

from __future__ import annotations

import json

from nanocell_daq.cli import main


def test_bench_fit_prints_both_speeds_their_ratio_and_the_agreement(capsys):
    assert main(["bench", "fit", "--n", "24", "--single", "6", "--repeat", "1"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    figures = json.loads(out[-1])
    for key in ("batch_spectra_per_s", "single_spectra_per_s", "speedup", "max_position_diff_cm1"):
        assert isinstance(figures[key], float) and figures[key] >= 0, key
    assert figures["n_spectra"] == 24 and figures["n_single"] == 6
    ratio = figures["batch_spectra_per_s"] / figures["single_spectra_per_s"]
    assert abs(figures["speedup"] / ratio - 1) < 0.01
    assert figures["max_position_diff_cm1"] < 0.05  # the two paths agree on the pixels both fitted


def test_bench_fit_refuses_a_bad_size_in_one_line(capsys):
    assert main(["bench", "fit", "--n", "0"]) == 2
    err = capsys.readouterr().err
    assert "--n" in err and "Traceback" not in err


def test_bench_fit_with_off_wire_pixels_fits_them_in_the_batch(capsys):
    assert main(["bench", "fit", "--n", "24", "--single", "24", "--empty", "0.5", "--repeat", "1"]) == 0
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert figures["empty_fraction"] == 0.5
    # the band-less pixels: the reduced models' fits, in the batch (only a cosmic ray sends one to fit_si)
    assert 6 <= figures["n_absent"] <= 18 and set(figures["fallback"]) <= {"cosmic ray"}
    assert figures["n_batch"] >= 22
    assert figures["max_position_diff_cm1"] < 0.05 and figures["max_error_rel_diff"] < 0.1
    assert figures["max_upper_rel_diff"] < 0.01
