"""The probe-station GUI: thin PySide6/pyqtgraph views over the Qt-free models of the core.

Importing this package first guards None/True/False against the reference counting bug of PySide6 6.12 on
Python 3.11 (see ``refcount_guard``): every Qt module of ours is imported through here.
"""

from nanocell_daq.gui.refcount_guard import immortalize_singletons

immortalize_singletons()
