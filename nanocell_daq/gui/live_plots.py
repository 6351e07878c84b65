"""Live plots of one run: E(t) and I(t), E vs Q per half-cycle, I-V per checkpoint, G vs checkpoint, Raman.

A thin view over ``LiveRunModel``: model signals only mark plots dirty; ``schedule_refresh()`` (called by the
poller after each batch) redraws the dirty ones, one per event-loop pass (``PacedRefresh``), so a batch of
10 000 points costs one redraw, not 10 000, and the redraws of several plots never block the loop together.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QPaintEvent
from PySide6.QtWidgets import QComboBox, QSplitter, QTabWidget, QVBoxLayout, QWidget

from nanocell_daq.gui.map_view import MapView
from nanocell_daq.gui.paced_refresh import PacedRefresh
from nanocell_daq.gui.theme import (
    E_COLOR,
    I_COLOR,
    MUTED,
    PIXEL_COLOR,
    SPECTRUM_COLOR,
    checkpoint_color,
    style_plot,
)
from nanocell_daq.viewmodels import LiveRunModel, Signal
from nanocell_daq.viewmodels.ranges import grow_range
from nanocell_daq.viewmodels.trace import envelope

PLOTS = ("E(t)", "I(t)", "E vs Q", "I-V", "log|I|-V", "G vs checkpoint", "spectrum", "map")


def _pen(color: str | tuple[int, int, int], width: float = 1.2) -> pg.QtGui.QPen:
    return pg.mkPen(color=color, width=width)


def _break_gaps(x: np.ndarray, y: np.ndarray, factor: float = 10.0) -> tuple[np.ndarray, np.ndarray]:
    """Insert a NaN where x jumps by more than ``factor`` times its median step (a pause between steps)."""
    if len(x) < 3:
        return x, y
    dx = np.diff(x)
    typical = float(np.median(dx))
    gaps = np.flatnonzero(dx > factor * typical) + 1 if typical > 0 else np.empty(0, dtype=np.int64)
    if not len(gaps):
        return x, y
    return np.insert(x, gaps, np.nan), np.insert(y, gaps, np.nan)


class TracePlots(pg.GraphicsLayoutWidget):
    """E(t) above I(t), x linked; the whole run as a min/max envelope, a zoomed part at full detail."""

    def __init__(self, model: LiveRunModel) -> None:
        super().__init__()
        self.model = model
        self.e_plot = self.addPlot(row=0, col=0)
        self.i_plot = self.addPlot(row=1, col=0)
        style_plot(self.e_plot, "Cell potential", ("t", "s"), ("E", "V"))
        style_plot(self.i_plot, "Cell current", ("t", "s"), ("I", "A"))
        self.i_plot.setXLink(self.e_plot)
        # NaNs (inserted at gaps between steps) break the line: no straight segment across an I-V or a map
        self.e_curve = self.e_plot.plot(pen=_pen(E_COLOR), connect="finite")
        self.i_curve = self.i_plot.plot(pen=_pen(I_COLOR), connect="finite")
        self.dirty = True
        self.follow = True  # show the whole run, x range growing in steps; False once the user zooms/pans
        self._x_end = 0.0
        self.e_plot.disableAutoRange(pg.ViewBox.XAxis)
        self.e_plot.vb.sigRangeChangedManually.connect(self._user_range)
        self.i_plot.vb.sigRangeChangedManually.connect(self._user_range)
        self.e_plot.sigXRangeChanged.connect(self._range_changed)
        for p in (self.e_plot, self.i_plot):
            p.autoBtn.clicked.connect(self._follow_again)
        self.drawn_x_end = float("nan")  # x (s) of the newest point handed to the curves
        self._flat: dict[str, bool] = {}  # per plot ("E", "I"): its y range was set around a constant trace
        self.painted = Signal("painted")  # painted(drawn_x_end) after each repaint (benchmark latency)

    def paintEvent(self, event: QPaintEvent) -> None:
        """Paint, then tell ``painted`` listeners which data are now on screen."""
        super().paintEvent(event)
        if len(self.painted):
            self.painted.emit(self.drawn_x_end)

    def _user_range(self, *_: object) -> None:
        self.follow = False
        self.dirty = True

    def _follow_again(self, *_: object) -> None:
        self.follow = True
        self._x_end = 0.0
        self.e_plot.disableAutoRange(pg.ViewBox.XAxis)
        self.dirty = True

    def _range_changed(self, *_: object) -> None:
        if not self.follow:
            self.dirty = True

    def _grow_x(self, x: np.ndarray) -> None:
        """Grow the x range in ~25 % steps: the axes (slow to render) change only a few times per decade."""
        if not len(x):
            return
        x0, x1 = float(x[0]), float(x[-1])
        if x1 <= self._x_end and self._x_end > x0:
            return
        span = max(x1 - x0, 1e-9)
        step = 10 ** np.floor(np.log10(span / 4))
        self._x_end = x0 + np.ceil(span * 1.25 / step) * step
        self.e_plot.setXRange(x0, self._x_end, padding=0)

    def refresh(self) -> None:
        """Redraw from the model's traces (envelope when following, window when zoomed)."""
        if not self.dirty:
            return
        self.dirty = False
        vb = self.e_plot.vb
        if self.follow or not len(self.model.E):
            (ex, ey), (ix, iy) = self.model.E.envelope(), self.model.I.envelope()
            self._grow_x(ex)
            # the envelope holds 2-4 blocks per pixel column: the min/max per column draws the same picture
            # with a fraction of the points (drawing them is what a repaint of a long run costs)
            columns = max(int(vb.width()), 200)
            (ex, ey), (ix, iy) = envelope(ex, ey, columns), envelope(ix, iy, columns)
        else:
            (x0, x1) = vb.viewRange()[0]
            buckets = max(int(vb.width()), 200)
            (ex, ey), (ix, iy) = self.model.E.window(x0, x1, buckets), self.model.I.window(x0, x1, buckets)
        self.e_curve.setData(*_break_gaps(ex, ey))
        self.i_curve.setData(*_break_gaps(ix, iy))
        self._flat = {name: _flat_range(plot.vb, y, self._flat.get(name, False))
                      for name, plot, y in (("E", self.e_plot, ey), ("I", self.i_plot, iy))}
        if len(ex):
            self.drawn_x_end = max(float(ex[-1]), float(ix[-1]) if len(ix) else -np.inf)


def _flat_range(vb: pg.ViewBox, y: np.ndarray, flat: bool) -> bool:
    """A constant trace (a galvanostatic step's 20 pA, a rest's 0 A) gets a y range around its value: the
    auto-range gives a zero span ±0.5 in the axis unit, which showed 20 pA on a ±500 mA axis. The auto-range
    takes over again as soon as the trace varies. ``flat``: whether this function set the range last time;
    returns the same for this time."""
    finite = y[np.isfinite(y)] if len(y) else y
    if not len(finite):
        return flat
    lo, hi = float(finite.min()), float(finite.max())
    if hi > lo:
        if flat and vb.state["autoRange"][1] is False:
            vb.enableAutoRange(pg.ViewBox.YAxis)
        return False
    if vb.state["autoRange"][1] is False and not flat:
        return False  # the user's own range
    half = abs(lo) * 0.5 or 1e-12
    vb.setYRange(lo - half, lo + half, padding=0)
    return True


class _FollowingPlot(pg.PlotWidget):
    """A plot whose range follows its data in rounded steps (``_fit``, by the subclass) until the user zooms
    or pans; "A" follows again."""

    def _follow_data(self) -> None:
        self.dirty = True
        self.follow = True
        item = self.getPlotItem()
        item.disableAutoRange()
        item.vb.sigRangeChangedManually.connect(self._user_range)
        item.autoBtn.clicked.connect(self._follow_again)

    def _user_range(self, *_: object) -> None:
        self.follow = False

    def _follow_again(self, *_: object) -> None:
        self.follow = True
        self.getPlotItem().disableAutoRange()
        self._fit(force=True)

    def _fit(self, force: bool = False) -> None:
        raise NotImplementedError


class HalfCyclePlot(_FollowingPlot):
    """E vs Q of the last 20 half-cycles, early ones cool, late ones warm.

    Only curves whose half-cycle grew are redrawn, and the range grows in rounded steps (``grow_range``)
    instead of rescaling on every update; once the user zooms or pans, the view stays until "A" is pressed.
    """

    LAST = 20

    def __init__(self, model: LiveRunModel) -> None:
        super().__init__()
        self.model = model
        item = self.getPlotItem()
        style_plot(item, "E vs Q per half-cycle", ("Q", "C"), ("E", "V"))
        self.curves: list[pg.PlotDataItem] = []
        self._shown: list[tuple[int, int, str, int] | None] = []  # (step id, points, label, curves) per curve
        self._bounds: list[tuple[float, float, float, float] | None] = []
        self._follow_data()

    def refresh(self) -> None:
        """Redraw the half-cycles that changed, then grow the range if the data left it."""
        if not self.dirty:
            return
        self.dirty = False
        recent = self.model.recent_halfcycles(self.LAST)
        while len(self.curves) < len(recent):
            self.curves.append(self.plot(skipFiniteCheck=True))
            self._shown.append(None)
            self._bounds.append(None)
        for k, curve in enumerate(self.curves):
            if k >= len(recent):
                if self._shown[k] is not None:
                    curve.setData([], [])
                    self._shown[k] = self._bounds[k] = None
                continue
            hc = recent[k]
            key = (hc.step_id, len(hc.Q), hc.label, len(recent))
            if key == self._shown[k]:
                continue
            q, e = self.model.halfcycle_curve(hc)
            if self._shown[k] is None or self._shown[k][3] != len(recent):
                curve.setPen(_pen(checkpoint_color(k, len(recent))))
            curve.setData(q, e)
            self._shown[k] = key
            self._bounds[k] = _bounds(q, e)
        self._fit()

    def _fit(self, force: bool = False) -> None:
        if self.follow or force:
            _grow_view(self.getPlotItem().vb, self._bounds, force)


def _grow_view(
    vb: pg.ViewBox,
    boxes: list[tuple[float, float, float, float] | None],
    force: bool = False,
    x_headroom: float = 0.2,
    y_headroom: float = 0.05,
) -> None:
    """Grow ``vb``'s range (``grow_range``) to hold the ``boxes`` (x0, x1, y0, y1); ``force``: fit anew."""
    found = [b for b in boxes if b is not None]
    if not found:
        return
    q0, q1 = min(b[0] for b in found), max(b[1] for b in found)
    e0, e1 = min(b[2] for b in found), max(b[3] for b in found)
    (x0, x1), (y0, y1) = vb.viewRange()
    view_x, view_y = (None, None) if force else ((x0, x1), (y0, y1))
    new_x = grow_range(view_x, q0, q1, headroom=x_headroom)
    new_y = grow_range(view_y, e0, e1, headroom=y_headroom)
    if new_x is not None:
        vb.setXRange(*new_x, padding=0)
    if new_y is not None:
        vb.setYRange(*new_y, padding=0)


def _bounds(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float, float] | None:
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.any():
        return None
    x, y = x[ok], y[ok]
    return float(x.min()), float(x.max()), float(y.min()), float(y.max())


class IVPlots(QTabWidget):
    """I-V curves overlaid per checkpoint of one contact pair (chooser in the tab bar): linear and log |I|."""

    ALL = "all pairs"

    def __init__(self, model: LiveRunModel) -> None:
        super().__init__()
        self.model = model
        self.lin = pg.PlotWidget()
        self.log = pg.PlotWidget()
        style_plot(self.lin.getPlotItem(), "I-V per checkpoint", ("V", "V"), ("I", "A"))
        style_plot(self.log.getPlotItem(), "|I|-V per checkpoint (log)", ("V", "V"), ("|I|", "A"))
        self.log.setLogMode(False, True)
        backing = pg.mkBrush(26, 29, 34, 200)  # the legend must not hide the curves under it
        self.legend = self.lin.addLegend(offset=(6, 6), labelTextSize="8pt", brush=backing)
        self.addTab(self.lin, "I-V linear")
        self.addTab(self.log, "I-V log |I|")
        self.setTabPosition(QTabWidget.TabPosition.South)
        self.pair = QComboBox()
        self.pair.setToolTip("Contact pair whose I-V curves are shown")
        self.pair.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.setCornerWidget(self.pair, Qt.Corner.BottomRightCorner)
        self.pair.currentTextChanged.connect(self._pair_chosen)
        self.lin_curves: dict[tuple[int, str], pg.PlotDataItem] = {}
        self.log_curves: dict[tuple[int, str], pg.PlotDataItem] = {}
        self.dirty = True

    def _pair_chosen(self, _text: str) -> None:
        self.dirty = True
        self.refresh()

    def _clear(self) -> None:
        self.lin.clear()
        self.log.clear()
        self.legend.clear()
        self.lin_curves.clear()
        self.log_curves.clear()

    def _sync_pairs(self) -> str:
        """Offer the pairs seen so far (the first one chosen at first); the chosen pair."""
        pairs = self.model.iv.pairs()
        offered = [*pairs, self.ALL] if len(pairs) > 1 else pairs
        if [self.pair.itemText(k) for k in range(self.pair.count())] != offered:
            current = self.pair.currentText()
            self.pair.blockSignals(True)
            self.pair.clear()
            self.pair.addItems(offered)
            first = "S-D" if "S-D" in offered else (offered[0] if offered else "")  # source-drain first
            self.pair.setCurrentText(current if current in offered else first)
            self.pair.blockSignals(False)
        self.pair.setVisible(len(offered) > 1)
        return self.pair.currentText()

    def refresh(self) -> None:
        """Redraw the curves of the chosen pair (few points each)."""
        if not self.dirty:
            return
        self.dirty = False
        chosen = self._sync_pairs()
        curves = {
            k: c for k, c in self.model.iv.curves.items() if chosen in (self.ALL, "") or c.pair == chosen
        }
        if set(self.lin_curves) - set(curves):
            self._clear()  # another pair or another run: start over
        n = max((c.order for c in curves.values()), default=0) + 1
        for key, c in sorted(curves.items(), key=lambda kv: (kv[1].order, kv[1].pair)):
            pen = _pen(checkpoint_color(c.order, n), 1.5)
            if key not in self.lin_curves:
                name = c.label if chosen == self.ALL else c.label.replace(f" [{c.pair}]", "")
                self.lin_curves[key] = self.lin.plot(name=name, symbol="o", symbolSize=3)
                self.log_curves[key] = self.log.plot(symbol="o", symbolSize=3)
            v, i = c.V.view, c.I.view
            self.lin_curves[key].setData(v, i, pen=pen, symbolPen=None, symbolBrush=pen.color())
            pos = np.abs(i) > 0  # log axis: zero current has no place on it
            self.log_curves[key].setData(
                v[pos], np.abs(i[pos]), pen=pen, symbolPen=None, symbolBrush=pen.color()
            )


class ConductancePlot(pg.PlotWidget):
    """Zero-bias conductance G0 (S, log axis) at each checkpoint, one line per contact pair."""

    def __init__(self, model: LiveRunModel) -> None:
        super().__init__()
        self.model = model
        style_plot(self.getPlotItem(), "Conductance vs checkpoint", ("checkpoint", None), ("G0", "S"))
        self.setLogMode(False, True)
        self.addLegend(offset=(-6, 6), labelTextSize="8pt")
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.dirty = True

    def refresh(self) -> None:
        """Redraw G0 per pair; non-positive or failed fits are left out (no place on a log axis)."""
        if not self.dirty:
            return
        self.dirty = False
        pairs = self.model.iv.pairs()
        if not pairs and self.curves:
            for c in self.curves.values():
                self.removeItem(c)
            self.curves.clear()
        for k, pair in enumerate(pairs):
            x, g, _ = self.model.iv.conductance_series(pair)
            ok = np.isfinite(g) & (g > 0)
            if pair not in self.curves:
                color = [SPECTRUM_COLOR, E_COLOR, PIXEL_COLOR, I_COLOR][k % 4]
                self.curves[pair] = self.plot(
                    name=pair or "G0",
                    pen=_pen(color, 1.5),
                    symbol="o",
                    symbolSize=7,
                    symbolBrush=color,
                    symbolPen=None,
                )
            self.curves[pair].setData(x[ok], g[ok])


class SpectrumPlot(_FollowingPlot):
    """The latest Raman spectrum and, once a map pixel is clicked, that pixel's spectrum.

    The range grows in rounded steps (``grow_range``) to hold both, rather than fitting each new spectrum
    (spectra arrive many times a second during a map: the axes would re-render at each); once the user zooms
    or pans, the view stays until "A" is pressed.
    """

    def __init__(self, model: LiveRunModel) -> None:
        super().__init__()
        self.model = model
        style_plot(self.getPlotItem(), "Raman spectrum", ("Raman shift", "cm⁻¹"), ("counts", None))
        self.getAxis("bottom").enableAutoSIPrefix(False)
        self.addLegend(offset=(-6, 6), labelTextSize="8pt")
        self.latest = self.plot(name="latest", pen=_pen(SPECTRUM_COLOR), skipFiniteCheck=True)
        self.pixel = self.plot(name="clicked pixel", pen=_pen(PIXEL_COLOR), skipFiniteCheck=True)
        for lo, hi in ((505, 535), (440, 500)):
            band = pg.LinearRegionItem(
                (lo, hi), movable=False, brush=pg.mkBrush(120, 130, 150, 28), pen=pg.mkPen(MUTED, width=0.5)
            )
            self.addItem(band)
        self._follow_data()

    def _fit(self, force: bool = False) -> None:
        if self.follow or force:
            boxes = [_bounds(*c.getData()) for c in (self.latest, self.pixel) if c.getData()[0] is not None]
            _grow_view(self.getPlotItem().vb, boxes, force, x_headroom=0.02)

    def refresh(self) -> None:
        """Redraw the latest spectrum."""
        if not self.dirty:
            return
        self.dirty = False
        if self.model.latest_spectrum is None:
            self.latest.setData([], [])
            self.pixel.setData([], [])
            return
        axis, counts, (x, y, _) = self.model.latest_spectrum
        self.latest.setData(axis, counts)
        self.setTitle(f"Raman spectrum — latest ({x:.1f}, {y:.1f}) µm", size="10pt")
        self._fit()

    def show_pixel(self, axis: np.ndarray, counts: np.ndarray | None) -> None:
        """Overlay a map pixel's spectrum (None clears it)."""
        if counts is None:
            self.pixel.setData([], [])
        else:
            self.pixel.setData(axis, counts)
            self._fit()


class LivePlotsWidget(QWidget):
    """Every live plot of a run in one resizable grid (the central widget of the main window)."""

    def __init__(self, model: LiveRunModel) -> None:
        super().__init__()
        self.model = model
        self.traces = TracePlots(model)
        self.halfcycles = HalfCyclePlot(model)
        self.iv = IVPlots(model)
        self.conductance = ConductancePlot(model)
        self.spectrum = SpectrumPlot(model)
        self.map = MapView(model.map)
        self.map.pixel_clicked.connect(self._pixel_clicked)

        top = QSplitter(Qt.Orientation.Horizontal)
        for w in (self.traces, self.halfcycles, self.map):
            top.addWidget(w)
        bottom = QSplitter(Qt.Orientation.Horizontal)
        for w in (self.iv, self.conductance, self.spectrum):
            bottom.addWidget(w)
        for s in (top, bottom):
            s.setStretchFactor(0, 5)
            s.setStretchFactor(1, 3)
            s.setStretchFactor(2, 4)
        rows = QSplitter(Qt.Orientation.Vertical)
        rows.addWidget(top)
        rows.addWidget(bottom)
        rows.setStretchFactor(0, 3)
        rows.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(rows)

        self.pacer = PacedRefresh(
            [self.traces, self.spectrum, self.map, self.halfcycles, self.iv, self.conductance], parent=self
        )
        model.run_changed.connect(self._mark_all)
        model.cycling_changed.connect(self._cycling)
        model.iv_changed.connect(self._iv)
        model.spectrum_changed.connect(self._spectrum)

    def _mark_all(self, *_: object) -> None:
        for v in (self.traces, self.halfcycles, self.iv, self.conductance, self.spectrum):
            v.dirty = True
        self.map.dirty = True

    def _cycling(self, *_: object) -> None:
        self.traces.dirty = self.halfcycles.dirty = True

    def _iv(self, *_: object) -> None:
        self.iv.dirty = self.conductance.dirty = True

    def _spectrum(self, *_: object) -> None:
        self.spectrum.dirty = True

    def _pixel_clicked(self, ix: int, iy: int) -> None:
        self.spectrum.show_pixel(self.model.map.axis, self.model.map.spectrum_at(ix, iy))

    def refresh(self) -> None:
        """Redraw what changed since the last call, now."""
        self.pacer.flush()

    def schedule_refresh(self) -> None:
        """Redraw what changed, one plot per event-loop pass from the next one (what the poller calls: the
        loop never blocks for all the plots' redraws and repaints at once)."""
        self.pacer.request()

    def plot_data(self) -> dict[str, int]:
        """Points currently drawn in each plot (``PLOTS`` keys): what a test checks after a run."""

        def n(item: pg.PlotDataItem) -> int:
            x, _ = item.getData()
            return 0 if x is None else int(np.isfinite(x).sum())  # NaNs only break lines at gaps

        return {
            "E(t)": n(self.traces.e_curve),
            "I(t)": n(self.traces.i_curve),
            "E vs Q": sum(n(c) for c in self.halfcycles.curves),
            "I-V": sum(n(c) for c in self.iv.lin_curves.values()),
            "log|I|-V": sum(n(c) for c in self.iv.log_curves.values()),
            "G vs checkpoint": sum(n(c) for c in self.conductance.curves.values()),
            "spectrum": n(self.spectrum.latest),
            "map": int(self.model.map.filled_count()[0]),
        }
