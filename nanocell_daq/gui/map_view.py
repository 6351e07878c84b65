"""The Raman map filling pixel by pixel, with a quantity chooser (band intensity, Xc, and with live fits the
fitted Xc, c-Si position and width) and pixel clicks."""

from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QPaintEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from nanocell_daq.gui.theme import MUTED, PIXEL_COLOR, style_plot
from nanocell_daq.viewmodels.events import Signal as ModelSignal
from nanocell_daq.viewmodels.raman_map import MapModel, pixel_size
from nanocell_daq.viewmodels.ranges import grow_range

FAILED_RGBA = (230, 60, 60, 255)
"""Colour of a pixel whose fit failed (over the fitted map)."""
NO_VALUE_RGBA = (96, 100, 110, 255)
"""Colour of a fitted pixel without a value (no significant c-Si band); not-fitted pixels stay empty."""
UNITS = {"Xc": "Xc", "Xc fit": "Xc", "c-Si position": "cm⁻¹", "c-Si width": "cm⁻¹ (FWHM)"}


class _MapPlot(pg.PlotWidget):
    """The plot, telling ``painted`` listeners after each repaint (the benchmark's pixel-to-map latency)."""

    def __init__(self) -> None:
        super().__init__()
        self.painted = ModelSignal("painted")

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if len(self.painted):
            self.painted.emit()


class MapView(QWidget):
    """Image of ``MapModel.image()`` in stage coordinates (µm); emits ``pixel_clicked(ix, iy)``.

    With a fitter attached to the model, a timer places finished fits every ``collect_ms`` (the fits run on
    the fitter's worker, never here); pixels not fitted yet are empty, failed ones red, and fitted ones
    without a value (no significant c-Si band) grey.
    """

    pixel_clicked = Signal(int, int)
    _fits_ready = Signal()  # emitted on the fitter's dispatcher thread; delivered here on the GUI thread

    def __init__(self, model: MapModel, collect_ms: int = 50) -> None:
        super().__init__()
        self.model = model
        self.quantity = QComboBox()
        self.quantity.addItems(list(model.quantities))
        self.quantity.setCurrentText(model.quantity)
        self.quantity.setToolTip(
            "Band intensity (area above a linear baseline) or crystalline fraction Xc from band areas;"
            " 'Xc fit', 'c-Si position', 'c-Si width': the c-Si/a-Si fit of nanocell analyze, pixel by pixel"
        )
        self.lo = QDoubleSpinBox(decimals=0, minimum=0, maximum=4000, value=model.window[0], suffix=" cm⁻¹")
        self.hi = QDoubleSpinBox(decimals=0, minimum=0, maximum=4000, value=model.window[1], suffix=" cm⁻¹")
        self.grid_choice = QComboBox()
        self.grid_choice.setToolTip("Which map of the run")
        self.filled = QLabel("no map yet")
        self.filled.setStyleSheet(f"color: {MUTED}")
        bar = QHBoxLayout()
        for w in (QLabel("Map of"), self.quantity, self.lo, QLabel("–"), self.hi, self.grid_choice):
            bar.addWidget(w)
        # the texts change with every pixel and every hover: they must not change the view's size hints at
        # each change, or the splitters around it re-lay every plot of the window out (a full repaint at each
        # map update); the count's width only grows, in steps (``show_count``)
        self.filled.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        bar.addWidget(self.filled, 1)

        self.plot = _MapPlot()
        style_plot(self.plot.getPlotItem(), "Raman map", ("x", "µm"), ("y", "µm"))
        for ax in ("bottom", "left"):
            self.plot.getAxis(ax).enableAutoSIPrefix(False)
        self.plot.setAspectLocked(True)
        self.image = pg.ImageItem()
        self.image.setColorMap(pg.colormap.get("viridis"))
        self.plot.addItem(self.image)
        self.failed = pg.ImageItem()  # failed fits red, fitted without a value grey, transparent elsewhere
        self.plot.addItem(self.failed)
        self.colorbar = pg.ColorBarItem(colorMap=pg.colormap.get("viridis"), interactive=False, width=12)
        self.colorbar.setImageItem(self.image, insert_in=self.plot.getPlotItem())
        self.marker = pg.ScatterPlotItem(size=11, pen=pg.mkPen(PIXEL_COLOR, width=2), brush=None, symbol="s")
        self.plot.addItem(self.marker)
        hair = pg.mkPen(MUTED, width=0.8, style=Qt.PenStyle.DashLine)
        self.vline = pg.InfiniteLine(angle=90, movable=False, pen=hair)
        self.hline = pg.InfiniteLine(angle=0, movable=False, pen=hair)
        for line in (self.vline, self.hline):
            line.setVisible(False)
            self.plot.addItem(line, ignoreBounds=True)
        self.readout = QLabel("")
        for label in (self.filled, self.readout):
            label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.readout.setStyleSheet(f"color: {MUTED}")
        self.plot.scene().sigMouseMoved.connect(self._hover)
        self.image.mouseClickEvent = self._clicked  # type: ignore[method-assign]

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.plot)
        layout.addWidget(self.readout)
        self.dirty = True
        self._shown_grid: int | None = None
        self.drawn_generation = -1  # the fitter's collect() generation shown by the last refresh
        self.min_redraw_ms = 100.0
        self._drawn_at = 0.0
        self._shown_levels: tuple[tuple[int, str], tuple[float, float]] | None = None
        self._update_window_enabled()
        self.collector = QTimer(self)
        self.collector.setInterval(collect_ms)
        self.collector.timeout.connect(self.collect)
        self.collector.start()  # idle without a fitter (the model may get one later)
        self._fits_ready.connect(self.collect, Qt.ConnectionType.QueuedConnection)
        if model.fits is not None:
            model.fits.on_ready = self._fits_ready.emit  # collect as soon as a chunk is done

        self.quantity.currentTextChanged.connect(self._quantity_changed)
        self.lo.valueChanged.connect(self._window_changed)
        self.hi.valueChanged.connect(self._window_changed)
        self.grid_choice.currentIndexChanged.connect(self._grid_chosen)
        model.changed.connect(self._model_changed)
        model.grids_changed.connect(self._grids_changed)

    # -- model -> view ---------------------------------------------------------------------------------
    def collect(self) -> None:
        """Show the fits finished since the last call (no fitting here: that runs on the fitter's worker), and
        draw what ``refresh`` held back."""
        self.model.collect_fits()
        self.refresh()

    def _model_changed(self, grid_id: int) -> None:
        self.dirty = True

    def _grids_changed(self) -> None:
        self.grid_choice.blockSignals(True)
        self.grid_choice.clear()
        for gid, gd in self.model.grids.items():
            g = gd.grid
            self.grid_choice.addItem(g.label or f"map {gid} ({g.nx}×{g.ny})", gid)
        if self.model.current_grid is not None:
            self.grid_choice.setCurrentIndex(list(self.model.grids).index(self.model.current_grid))
        self.grid_choice.blockSignals(False)
        self.dirty = True

    def refresh(self, force: bool = False) -> None:
        """Redraw the current grid's image, at most every ``min_redraw_ms`` unless ``force`` (the collect
        timer draws what was held back): a live map changes at every poll and every finished fit."""
        if not self.dirty:
            return
        now = time.perf_counter()
        if not force and (now - self._drawn_at) * 1000 < self.min_redraw_ms:
            return
        self._drawn_at = now
        self.dirty = False
        gid = self.model.current_grid
        if gid is None or gid not in self.model.grids:
            self.image.clear()
            self.failed.setVisible(False)
            self.show_count("no map yet")
            return
        if gid != self._shown_grid and self.grid_choice.findData(gid) >= 0:
            self.grid_choice.blockSignals(True)
            self.grid_choice.setCurrentIndex(self.grid_choice.findData(gid))
            self.grid_choice.blockSignals(False)
        g = self.model.grids[gid].grid
        img = self.model.image(gid)
        lo, hi = self._levels(img, (gid, self.model.quantity))
        self.image.setImage(img, levels=(lo, hi), autoLevels=False)
        if self.colorbar.levels() != (lo, hi):
            self.colorbar.setLevels((lo, hi))  # re-lays the colour bar's axis out: only when they change
        dx, dy = pixel_size(g)
        rect = QRectF(g.x0_um - dx / 2, g.y0_um - dy / 2, g.nx * dx, g.ny * dy)
        self.image.setRect(rect)
        failed, no_value = self.model.failed_mask(gid), self.model.no_value_mask(gid)
        if failed is not None and no_value is not None and (failed.any() or no_value.any()):
            rgba = np.zeros((*failed.shape, 4), np.uint8)
            rgba[no_value] = NO_VALUE_RGBA
            rgba[failed] = FAILED_RGBA
            self.failed.setImage(rgba, levels=(0, 255), autoLevels=False)
            self.failed.setRect(rect)
            self.failed.setVisible(True)
        else:
            self.failed.setVisible(False)
        if self.model.fits is not None:
            self.drawn_generation = self.model.fits.generation
        if gid != self._shown_grid:
            # a line map (one row) drawn to scale is a hairline: let it fill the plot's height instead
            self.plot.setAspectLocked(g.ny > 1 and g.nx > 1)
            self.plot.autoRange()
            self._shown_grid = gid
        n, total = self.model.filled_count(gid)
        fitted = self.model.fit_summary(gid)
        self.show_count(f"{n}/{total} pixels" + (f" · {fitted}" if fitted else ""))

    def show_count(self, text: str, step_px: int = 40) -> None:
        """Show the pixel count ``text`` in full; its room only grows, in ``step_px`` steps, so the window's
        layout changes a few times per map rather than with every pixel."""
        self.filled.setText(text)
        need = self.filled.fontMetrics().horizontalAdvance(text) + 6
        if need > self.filled.minimumWidth():
            self.filled.setMinimumWidth(-(-need // step_px) * step_px)

    def _levels(self, img: np.ndarray, key: tuple[int, str]) -> tuple[float, float]:
        """Colour levels: 0..1 for Xc; otherwise the data's range, grown in rounded steps (``grow_range``) so
        that the colour bar does not change with every pixel."""
        if key[1] in ("Xc", "Xc fit"):
            return 0.0, 1.0
        finite = img[np.isfinite(img)]
        view = self._shown_levels[1] if self._shown_levels and self._shown_levels[0] == key else None
        if not finite.size:
            return view or (0.0, 1.0)
        lo, hi = float(finite.min()), float(finite.max())
        new = grow_range(view, lo, hi, headroom=0.02)
        levels = new if new is not None else view
        if levels is None or levels[1] <= levels[0]:
            levels = (lo, lo + (1.0 if lo == 0 else abs(lo) * 1e-3))
        self._shown_levels = (key, levels)
        return levels

    def hover(self, x_um: float, y_um: float) -> None:
        """Crosshair at stage point (x_um, y_um) and the readout of the map there."""
        for line, v in ((self.vline, x_um), (self.hline, y_um)):
            line.setPos(v)
            line.setVisible(True)
        self.readout.setText(self.model.readout(x_um, y_um))

    def _hover(self, scene_pos: QPointF) -> None:
        vb = self.plot.getPlotItem().vb
        if not vb.sceneBoundingRect().contains(scene_pos):
            self.vline.setVisible(False)
            self.hline.setVisible(False)
            return
        p = vb.mapSceneToView(scene_pos)
        self.hover(p.x(), p.y())

    # -- view -> model ---------------------------------------------------------------------------------
    def _update_window_enabled(self) -> None:
        custom = self.model.quantity == "custom"
        self.lo.setEnabled(custom)
        self.hi.setEnabled(custom)

    def _quantity_changed(self, quantity: str) -> None:
        window = (self.lo.value(), self.hi.value()) if quantity == "custom" else None
        self.model.set_quantity(quantity, window)
        for box, v in ((self.lo, self.model.window[0]), (self.hi, self.model.window[1])):
            box.blockSignals(True)
            box.setValue(v)
            box.blockSignals(False)
        self._update_window_enabled()
        self.colorbar.axis.setLabel(UNITS.get(quantity, "counts·cm⁻¹"))
        self.dirty = True
        self.refresh(force=True)

    def _window_changed(self, *_: object) -> None:
        if self.model.quantity == "custom":
            self.model.set_quantity("custom", (self.lo.value(), self.hi.value()))
            self.refresh(force=True)

    def _grid_chosen(self, index: int) -> None:
        gid = self.grid_choice.itemData(index)
        if gid is not None:
            self.model.current_grid = int(gid)
            self.dirty = True
            self.refresh(force=True)

    def select_pixel(self, ix: int, iy: int) -> None:
        """Mark pixel (ix, iy) and emit ``pixel_clicked`` (also used by tests)."""
        gid = self.model.current_grid
        if gid is None:
            return
        g = self.model.grids[gid].grid
        dx, dy = pixel_size(g)
        self.marker.setData([g.x0_um + ix * dx], [g.y0_um + iy * dy])
        self.pixel_clicked.emit(ix, iy)

    def _clicked(self, event: object) -> None:
        gid = self.model.current_grid
        if gid is None:
            return
        g = self.model.grids[gid].grid
        pos = event.pos()  # type: ignore[attr-defined]  # item coordinates are pixel (column, row) units
        ix, iy = int(np.floor(pos.x())), int(np.floor(pos.y()))
        if 0 <= ix < g.nx and 0 <= iy < g.ny:
            self.select_pixel(ix, iy)
