"""The monitor in a real headless Chromium during a live simulated run: the page's script draws E and I
against time from the JSON of a run that is still writing (the traces' pixels in a screenshot)."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from nanocell_daq.storage import Store
from nanocell_daq.web.serve import make_server
from tests.parts import require

NANOCELL = Path(sys.executable).with_name("nanocell")
CHARGE = """\
protocol: long rest
steps:
  - rest: {time_s: 3000, interval_s: 1.0}
"""


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    require("Chromium", "no chromium on PATH (Debian package `chromium`)")
    raise AssertionError("unreachable")


def _browser(binary: str, *args: str) -> str:
    proc = subprocess.run([binary, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           "--virtual-time-budget=2500", *args], capture_output=True, text=True, timeout=90,
                          check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


@pytest.mark.slow
def test_monitor_draws_the_live_run_in_chromium(tmp_path):
    chromium = _chromium()
    station, db = tmp_path / "sim.yaml", tmp_path / "runs.db"
    (tmp_path / "charge.yaml").write_text(CHARGE)
    Store.open(db).close()
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    sim = subprocess.Popen([str(NANOCELL), "sim", "serve", "--preset", "si", "--speed", "100",
                            "--station-out", str(station)], **quiet)
    run = None
    try:
        deadline = time.monotonic() + 30
        while not station.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        run = subprocess.Popen([str(NANOCELL), "run", str(tmp_path / "charge.yaml"), "--station",
                                str(station), "--db", str(db)], **quiet)
        deadline = time.monotonic() + 60
        points = 0
        while points < 20 and time.monotonic() < deadline and run.poll() is None:
            time.sleep(0.5)
            with Store.open(db, create=False) as store:
                runs = store.runs()
                points = len(store.cycling(runs[-1].id)) if runs else 0
        assert points >= 20, "the simulated run wrote no cycling data"
        with Store.open(db, create=False) as store:
            server, sock = make_server(store, "127.0.0.1", 0)
            thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
            thread.start()
            try:
                url = f"http://127.0.0.1:{sock.getsockname()[1]}/"
                shot = tmp_path / "monitor.png"  # build/web-monitor.png keeps a copy to look at
                _browser(chromium, f"--screenshot={shot}", "--window-size=1500,900", url)
            finally:
                server.should_exit = True
                thread.join(20)
                sock.close()
            assert store.runs()[-1].status == "running"  # it was live all along
    finally:
        for proc in (run, sim):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)  # a run aborts safely; the bench stops
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)[..., :3]
    r, _g, b = (pixels[100:350, 560:1500, i] for i in range(3))  # the E and I canvases, side by side
    blue = ((b - r > 0.25) & (b > 0.5)).sum()  # the E trace (#6fb0ff)
    orange = ((r - b > 0.2) & (r > 0.35)).sum()  # the I trace (#ffb060), thin lines blend into the background
    assert blue > 100 and orange > 50, f"traces not drawn in the screenshot (E {blue}, I {orange} pixels)"
