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


FAULTY_BINDING = """
import ctypes, sys
calls = sys.getrefcount(None) + 1000  # more than None has: enough to free it
{guard}
steal = ctypes.pythonapi.Py_DecRef  # what a faulty binding does: returns None without taking a reference
steal.argtypes = [ctypes.py_object]
for _ in range(calls):
    steal(None)
print("survived", flush=True)
"""


def _faulty(guard: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", FAULTY_BINDING.format(guard=guard)],
        capture_output=True, text=True, timeout=60, check=False,
    )


def test_a_binding_stealing_references_to_none_kills_an_unguarded_interpreter():
    """Why the guard exists, shown on this Python whatever PySide6 is installed: a binding that steals one
    reference to None per call brings None's count to zero and CPython aborts."""
    if sys.version_info >= (3, 12):  # None is immortal from 3.12 on (PEP 683): nothing to show
        assert not _guard_needed()
        return
    proc = _faulty("")
    assert proc.returncode != 0 and "survived" not in proc.stdout
    assert "deallocating None" in proc.stderr, proc.stderr[-2000:]


def test_the_guard_keeps_none_alive_under_the_same_binding():
    proc = _faulty("from nanocell_daq.gui.refcount_guard import immortalize_singletons\n"
                   "assert immortalize_singletons() == (sys.version_info < (3, 12))")
    assert proc.returncode == 0 and "survived" in proc.stdout, proc.stderr[-2000:]


def _guard_needed() -> bool:
    from nanocell_daq.gui.refcount_guard import needed

    return needed()
