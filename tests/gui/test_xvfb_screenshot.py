"""The real ``nanocell gui`` in a real X server (Xvfb): the main window renders a finished run to a PNG."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.analysis.runs import build_run
from tests.parts import require

XVFB_RUN = shutil.which("xvfb-run")


def test_main_window_renders_a_run_under_xvfb(tmp_path: Path, qt_ok: None) -> None:
    if XVFB_RUN is None:
        require("Xvfb", "xvfb-run is not installed (Debian xvfb; .ci/run installs it)")
    db, _run_id = build_run(tmp_path / "runs.db")
    png = Path(os.environ.get("NANOCELL_SCREENSHOT", tmp_path / "main-window.png"))
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    env["QT_QPA_PLATFORM"] = "xcb"  # a real X connection, not the offscreen plugin
    cmd = [
        XVFB_RUN, "-a", "-s", "-screen 0 1600x1000x24",
        sys.executable, "-m", "nanocell_daq", "gui", "--db", str(db),
        "--screenshot", str(png), "--after", "3",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180, env=env, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert png.exists() and png.stat().st_size > 30_000

    from PySide6.QtGui import QImage

    image = QImage(str(png))
    assert image.width() >= 1000 and image.height() >= 600
    # A window that drew its plots has many distinct colours; a blank or black frame has a handful.
    colours = {image.pixel(x, y) for x in range(0, image.width(), 7) for y in range(0, image.height(), 7)}
    assert len(colours) > 50, f"only {len(colours)} colours: the window did not render"
