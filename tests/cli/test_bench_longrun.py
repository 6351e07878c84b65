"""``nanocell bench longrun`` at a tiny scale: the run it builds, the JSON it prints, and the second
``analyze`` taking every fit from the derived results (counted, not timed)."""

from __future__ import annotations

import json

from nanocell_daq.cli import main

SCALE = "0.0002"  # 2 half-cycles, 3 checkpoints: 2,000 points, 3 sweeps, 21 spectra


def test_bench_longrun_builds_the_run_times_each_phase_and_reuses_the_fits(capsys):
    assert main(["bench", "longrun", "--scale", SCALE, "--report", "png"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    figures = json.loads(out[-1])
    for key in ("build_s", "analyze_s", "analyze_again_s", "report_s"):
        assert isinstance(figures[key], float) and figures[key] > 0, key
    assert set(figures["peak_rss_mb"]) == {"build", "analyze", "analyze_again", "report"}
    assert all(v > 50 for v in figures["peak_rss_mb"].values())  # a Python process with numpy: tens of MB
    assert figures["targets"] == {"analyze_s": 60.0, "report_s": 60.0, "analyze_again_s": 2.0,
                                  "peak_rss_mb": 2048.0}
    assert set(figures["within_targets"]) == set(figures["targets"])
    assert figures["baseline"]["read_cycling_s"] > 0 and figures["baseline"]["bytes"] > 0
    sizes, built = figures["sizes"], figures["built"]
    assert sizes["cycling_points"] == 2000 and sizes["checkpoints"] == 3
    for key in ("cycling_points", "iv_sweeps", "spectra"):
        assert built[key] == sizes[key], key  # the store holds what was asked for
    assert built["cycling_blocks"] >= sizes["cycling_points"] // 8  # blocks of 8 points, one per flush
    first, again = figures["reuse"]["analyze"], figures["reuse"]["analyze_again"]
    assert first["computed"]["spectra_fitted"] == sizes["spectra"]
    assert first["computed"]["raman_map_fit"] == sizes["checkpoints"]
    assert first["computed"]["iv_sweeps_fitted"] == sizes["iv_sweeps"]
    assert first["computed"]["cycling_summary"] == 1
    assert again["computed"] == {}  # nothing fitted the second time: the whole result taken from the store
    assert again["reused"] == {"run_analysis_result": 1}
    assert figures["analysis"]["n_cycling_points"] == sizes["cycling_points"]
    assert figures["analysis"]["pixels"] == sizes["spectra"]
    parts = figures["analysis"]["parts_s"]  # where the cold analyze spent its time
    assert set(parts) == set(figures["analysis"]["parts_cpu_s"]) == {"cycling", "iv", "raman", "rest",
                                                                      "total"}
    assert parts["total"] <= figures["analyze_s"] and parts["raman"] > 0 and parts["iv"] > 0


def test_bench_longrun_refuses_a_bad_scale_in_one_line(capsys):
    assert main(["bench", "longrun", "--scale", "0"]) == 2
    err = capsys.readouterr().err
    assert "--scale" in err and "Traceback" not in err
