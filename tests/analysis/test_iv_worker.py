"""A run's I-V fits in a child process (``IVWorker``): the same table as in-process, a fallback when the
child cannot run, and no second run of a user's script (as a multiprocessing "spawn" child would do)."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap

import pandas as pd
import pytest

from nanocell_daq.analysis import iv_worker
from nanocell_daq.analysis import run_analysis as ra
from nanocell_daq.analysis.run_analysis import analyze_run
from nanocell_daq.storage import Store
from tests.analysis.runs import build_run


@pytest.fixture
def run_db(tmp_path):
    path, _run = build_run(tmp_path / "runs.db", n_pixels=4)
    return path


def _iv(path, monkeypatch, threshold):
    monkeypatch.setattr(ra, "IV_WORKER_MIN_SWEEPS", threshold)
    started = []
    real = iv_worker.IVWorker.__init__

    def spy(self, *args, **kwargs):
        started.append(True)
        real(self, *args, **kwargs)

    monkeypatch.setattr(iv_worker.IVWorker, "__init__", spy)
    with Store.open(path, create=False) as store:
        table = analyze_run(store, 1, use_cache=False, save=False).iv_table
    return table, bool(started)


def test_the_worker_gives_the_table_the_analysis_computes_itself(run_db, monkeypatch):
    inside, used = _iv(run_db, monkeypatch, 10**9)
    assert not used
    child, used = _iv(run_db, monkeypatch, 1)
    assert used and len(child) == len(inside) > 0
    pd.testing.assert_frame_equal(child, inside)


def test_a_worker_that_cannot_start_leaves_the_fits_to_the_analysis(run_db, monkeypatch, caplog):
    inside, _ = _iv(run_db, monkeypatch, 10**9)
    monkeypatch.setattr(iv_worker.sys, "executable", "/nonexistent/python")
    with caplog.at_level(logging.WARNING, logger="nanocell_daq.analysis.iv_worker"):
        child, used = _iv(run_db, monkeypatch, 1)
    assert used
    assert "I-V worker not started" in caplog.text
    pd.testing.assert_frame_equal(child, inside)


def test_a_failing_worker_leaves_the_fits_to_the_analysis(tmp_path, caplog):
    points = pd.DataFrame({"step_id": [1, 1, 1], "pair": ["S-D"] * 3, "voltage_V": [0.0, 0.1, 0.2]})
    job = iv_worker.IVWorker(points, ("step_id", "pair"), {})  # no current_A column: the child fails
    with caplog.at_level(logging.WARNING, logger="nanocell_daq.analysis.iv_worker"):
        assert job.result() is None
    assert "I-V worker failed" in caplog.text and "current_A" in caplog.text


def test_an_unguarded_user_script_runs_once(run_db, tmp_path):
    script = tmp_path / "mine.py"
    script.write_text(textwrap.dedent(f"""
        from nanocell_daq.analysis import run_analysis as ra
        from nanocell_daq.storage import Store
        ra.IV_WORKER_MIN_SWEEPS = 1
        print("script body ran")
        with Store.open({str(run_db)!r}, create=False) as store:
            print(len(ra.analyze_run(store, 1, use_cache=False, save=False).iv_table), "sweeps")
    """))
    out = subprocess.run([sys.executable, str(script)], check=False, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("script body ran") == 1
    assert "sweeps" in out.stdout


def test_analyze_warns_about_a_sweep_whose_g0_did_not_converge(run_db, monkeypatch):
    from nanocell_daq.analysis import iv_fit

    monkeypatch.setattr(ra, "IV_WORKER_MIN_SWEEPS", 10**9)  # in this process, where the budget is patched
    monkeypatch.setattr(iv_fit, "MAX_NFEV", 1)
    with Store.open(run_db, create=False) as store:
        result = analyze_run(store, 1, use_cache=False, save=False)
    stopped = result.iv_table[~result.iv_table["g0_converged"].astype(bool)]
    assert len(stopped) > 0
    warned = [w for w in result.warnings if "before converging" in w]
    assert len(warned) == len(stopped)
    assert all(w.startswith("I-V '") for w in warned)
