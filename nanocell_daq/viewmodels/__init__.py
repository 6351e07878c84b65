"""Qt-free view models of the GUI: plain evented Python objects following the store; views display them.

Nothing here imports Qt or pyqtgraph, so every model is tested (and usable from scripts) without a display.

- ``Signal``: a list of callbacks (``connect``/``disconnect``/``emit``).
- ``DecimatedTrace``: a growing (x, y) buffer with a min/max envelope for drawing millions of points.
- ``LiveRunModel``: follows one run (cycling, I-V, spectra, map, events, progress, status) by new rows.
- ``RunBrowserModel``, ``RunControlModel``, ``StationModel``, ``ProtocolEditorModel``.
"""

from __future__ import annotations

from nanocell_daq.viewmodels.events import Signal
from nanocell_daq.viewmodels.iv_checkpoints import IVCheckpointsModel, IVCurve
from nanocell_daq.viewmodels.live_run import LiveRunModel, PollBatch
from nanocell_daq.viewmodels.raman_map import MapModel
from nanocell_daq.viewmodels.run_browser import RunBrowserModel
from nanocell_daq.viewmodels.run_control import RunControlModel
from nanocell_daq.viewmodels.trace import DecimatedTrace, GrowingArray

__all__ = [
    "DecimatedTrace",
    "GrowingArray",
    "IVCheckpointsModel",
    "IVCurve",
    "LiveRunModel",
    "MapModel",
    "PollBatch",
    "RunBrowserModel",
    "RunControlModel",
    "Signal",
]
