"""Ctrl-C on ``nanocell run`` pauses safely and says how to resume; a second Ctrl-C aborts safely."""

from __future__ import annotations

import signal
import time

import pytest

from nanocell_daq.cli import main
from nanocell_daq.storage import Store
from tests.engine import benchkit

pytestmark = pytest.mark.slow

PROTOCOL = """\
protocol: Ctrl-C test
steps:
  - galvanostatic: {label: charge, current_A: 1.0e-12, capacity_fraction: 0.5, interval_s: 1}
  - iv: {label: after charge, pairs: [S-D], points: 5}
"""


def _paused(db, run_id):
    with Store.open(db, create=False) as store:
        return (store.progress(run_id).step_label or "").startswith("paused")


def test_ctrl_c_pauses_with_outputs_off_and_a_second_ctrl_c_aborts(tmp_path):
    with benchkit.cli_run_in_step(tmp_path, PROTOCOL, "charge") as cli:
        bench, proc, run_id, db = cli.bench, cli.proc, cli.run_id, cli.db
        assert bench.output_on("pstat")

        proc.send_signal(signal.SIGINT)
        assert benchkit.wait_until(lambda: not bench.output_on("pstat")), "Ctrl-C did not turn the cell off"
        assert benchkit.wait_until(lambda: _paused(db, run_id))
        time.sleep(0.6)
        assert proc.poll() is None, "a first Ctrl-C must not end the run"
        # every source off, shutter closed; the matrix keeps the cell's wiring for the resume
        assert benchkit.outputs_on(bench) == {"matrix": True}

        # the printed way back: another process resumes it through the control table
        assert main(["control", str(run_id), "resume", "--db", str(db)]) == 0
        assert benchkit.wait_until(lambda: bench.output_on("pstat")), "resume did not re-arm the charge"

        proc.send_signal(signal.SIGINT)  # pauses again ...
        assert benchkit.wait_until(lambda: not bench.output_on("pstat"))
        proc.send_signal(signal.SIGINT)  # ... and a second Ctrl-C aborts
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 3, (out, err)
        assert benchkit.outputs_on(bench) == {}
        assert bench.damage == []

    hint = f"resume with `nanocell control {run_id} resume --db {db}`, or press Ctrl-C again to abort"
    assert hint in err.decode()
    assert b"aborted: Ctrl-C pressed again" in out
    with Store.open(db, create=False) as store:
        info = store.run(run_id)
        assert (info.status, info.reason) == ("aborted", "Ctrl-C pressed again")
        assert [(s.label, s.status) for s in store.steps(run_id)] == [("charge", "aborted")]
