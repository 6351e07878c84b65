"""The SC10's own timer as a belt: with every host process killed mid-exposure, the shutter closes by itself
within the exposure and its margin, without another command."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from simulated_instruments.bench import SimulatedBench
from tests.engine import benchkit

SPEED = 100.0
EXPOSURE_S = 20.0
MARGIN_S = 0.2 * SPEED
"""The map's first margin at this speed (0.2 s of link latency x the speed; see procedures.raman)."""


def test_the_shutter_closes_itself_when_every_host_process_is_gone(tmp_path):
    with SimulatedBench(preset="si", speed=SPEED, seed=1, smu_model="2450", ideal_pstat=True) as bench:
        station = benchkit.station_file(bench, tmp_path)
        protocol = tmp_path / "map.yaml"
        protocol.write_text(f"steps:\n  - raman_map: {{nx: 20, exposure_s: {EXPOSURE_S}}}\n")
        cmd = [sys.executable, "-m", "nanocell_daq", "run", str(protocol), "--station", str(station),
               "--db", str(tmp_path / "runs.db")]
        # its own session: the kill takes the engine and anything of that session; the supervisor has a
        # session of its own (it survives the engine) and is killed first: every host process is gone
        log = (tmp_path / "engine.log").open("wb")
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + 60
            while not (bench.output_on("shutter") and "mode=3" in [e.command for e in bench.log("shutter")]):
                assert proc.poll() is None, (tmp_path / "engine.log").read_text()[-2000:]
                assert time.monotonic() < deadline, "no timed exposure started"
                time.sleep(0.005)
            for child in benchkit.child_pids(proc.pid):
                os.kill(child, signal.SIGKILL)
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
            killed_at, sent = bench.clock.now(), len(bench.log("shutter"))
            assert bench.output_on("shutter")  # still open: only its own timer can close it now
            closed = benchkit.wait_until(lambda: not bench.output_on("shutter"), timeout=10)
            closed_at = bench.clock.now()
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
            log.close()
        assert closed
        assert len(bench.log("shutter")) == sent  # nobody told it to close
        # open for at most one exposure and its margin (plus the 50 ms polling of wait_until)
        assert closed_at - killed_at <= EXPOSURE_S + MARGIN_S + 0.06 * SPEED
