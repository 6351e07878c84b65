"""PySide6 6.12 on Python 3.11 returns None/True/False unreferenced: the GUI package must survive it."""

from __future__ import annotations

import subprocess
import sys

CALLS = """
import sys
{guard}
from PySide6 import QtCore
r = QtCore.QRectF(0, 0, 1, 1)
for _ in range(100_000):  # ~20x the references None has in a bare interpreter
    r.setHeight(2.0)              # a void method: returns None
class O(QtCore.QObject):
    sig = QtCore.Signal()
o = O()
for _ in range(100_000):
    o.sig.emit()                  # returns True
print("survived")
"""


def _run(guard: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", CALLS.format(guard=guard)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_many_void_calls_and_emits_do_not_kill_the_interpreter_once_the_gui_package_is_imported(qt_ok):
    proc = _run("import nanocell_daq.gui")
    assert proc.returncode == 0 and "survived" in proc.stdout, proc.stderr[-2000:]


def test_without_the_guard_the_same_calls_abort_on_this_pyside(qt_ok):
    """Documents why the guard exists; skipped once PySide6 counts its references again."""
    proc = _run("")
    if proc.returncode == 0:
        import pytest

        pytest.skip("this PySide6 no longer steals references to None/True: the guard may go")
    assert "deallocating" in proc.stderr
