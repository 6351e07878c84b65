"""Keep None/True/False alive under PySide6 6.12 on Python 3.11 (its bindings return them unreferenced).

Why: the PySide6/shiboken6 6.12.0 wheels (``cp310-abi3``) return ``None`` from every void method
(``QRectF.setHeight``, ``QPen.setWidth``, ``QTimer.start`` ...) and ``True`` from ``Signal.emit`` without
taking a reference, as if these were immortal objects (they are only from Python 3.12 on, PEP 683). On
Python 3.11 each such call steals one reference, so after a few thousand to a few million calls
(``sys.getrefcount(None)`` is ~5 000 in a bare interpreter) CPython aborts with "Fatal Python error:
none_dealloc: deallocating None" (while pyqtgraph paints an axis: ``br.setHeight(...)``) or "bool_dealloc"
at exit. 10 000 calls of ``QRectF(0, 0, 1, 1).setHeight(2.0)`` are enough to reproduce it.

What: give these singletons what 3.12 gives them: a reference count so large (2**60) that no number of
stolen references can bring it to zero in the life of a process (centuries at a million calls per second).
The extra count is never released: the objects are static and never freed anyway. Does nothing on 3.12+
or where the object layout is not the expected one (then it says so once on stderr).
"""

from __future__ import annotations

import ctypes
import sys

_BALLAST = 1 << 60
_SINGLETONS = (None, True, False, NotImplemented, Ellipsis)
_done = False


def needed() -> bool:
    """True where the singletons are mortal (CPython before 3.12)."""
    return sys.implementation.name == "cpython" and sys.version_info < (3, 12)


def immortalize_singletons() -> bool:
    """Add the 2**60 ballast to each singleton's reference count once; True if it was (or is) applied."""
    global _done
    if _done or not needed():
        return _done
    cells = []
    for obj in _SINGLETONS:
        cell = ctypes.c_ssize_t.from_address(id(obj))  # ob_refcnt is the first field of every object
        if abs(cell.value - sys.getrefcount(obj)) > 1000:  # not the layout we know (e.g. a trace-refs build)
            print("nanocell-daq: cannot guard None's reference count on this Python", file=sys.stderr)
            return False
        cells.append(cell)
    for cell in cells:
        if cell.value < _BALLAST // 2:
            cell.value += _BALLAST
    _done = True
    return True
