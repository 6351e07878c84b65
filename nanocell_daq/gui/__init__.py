"""The probe-station GUI: thin PySide6/pyqtgraph views over the Qt-free models of the core."""
