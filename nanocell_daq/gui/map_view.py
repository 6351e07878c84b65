"""The Raman map filling pixel by pixel, with a quantity chooser (band intensity or Xc) and pixel clicks."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from nanocell_daq.gui.theme import MUTED, PIXEL_COLOR, style_plot
from nanocell_daq.viewmodels.raman_map import MapModel, pixel_size


class MapView(QWidget):
    """Image of ``MapModel.image()`` in stage coordinates (µm); emits ``pixel_clicked(ix, iy)``."""

    pixel_clicked = Signal(int, int)

    def __init__(self, model: MapModel) -> None:
        super().__init__()
        self.model = model
        self.quantity = QComboBox()
        self.quantity.addItems(list(MapModel.QUANTITIES))
        self.quantity.setCurrentText(model.quantity)
        self.quantity.setToolTip("Band intensity (area above a linear baseline) or crystalline fraction Xc")
        self.lo = QDoubleSpinBox(decimals=0, minimum=0, maximum=4000, value=model.window[0], suffix=" cm⁻¹")
        self.hi = QDoubleSpinBox(decimals=0, minimum=0, maximum=4000, value=model.window[1], suffix=" cm⁻¹")
        self.grid_choice = QComboBox()
        self.grid_choice.setToolTip("Which map of the run")
        self.filled = QLabel("no map yet")
        self.filled.setStyleSheet(f"color: {MUTED}")
        bar = QHBoxLayout()
        for w in (QLabel("Map of"), self.quantity, self.lo, QLabel("–"), self.hi, self.grid_choice):
            bar.addWidget(w)
        bar.addStretch(1)
        bar.addWidget(self.filled)

        self.plot = pg.PlotWidget()
        style_plot(self.plot.getPlotItem(), "Raman map", ("x", "µm"), ("y", "µm"))
        for ax in ("bottom", "left"):
            self.plot.getAxis(ax).enableAutoSIPrefix(False)
        self.plot.setAspectLocked(True)
        self.image = pg.ImageItem()
        self.image.setColorMap(pg.colormap.get("viridis"))
        self.plot.addItem(self.image)
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
        self._update_window_enabled()

        self.quantity.currentTextChanged.connect(self._quantity_changed)
        self.lo.valueChanged.connect(self._window_changed)
        self.hi.valueChanged.connect(self._window_changed)
        self.grid_choice.currentIndexChanged.connect(self._grid_chosen)
        model.changed.connect(self._model_changed)
        model.grids_changed.connect(self._grids_changed)

    # -- model -> view ---------------------------------------------------------------------------------
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

    def refresh(self) -> None:
        """Redraw the current grid's image (cheap: a map has at most a few thousand pixels)."""
        if not self.dirty:
            return
        self.dirty = False
        gid = self.model.current_grid
        if gid is None or gid not in self.model.grids:
            self.image.clear()
            self.filled.setText("no map yet")
            return
        if gid != self._shown_grid and self.grid_choice.findData(gid) >= 0:
            self.grid_choice.blockSignals(True)
            self.grid_choice.setCurrentIndex(self.grid_choice.findData(gid))
            self.grid_choice.blockSignals(False)
        g = self.model.grids[gid].grid
        img = self.model.image(gid)
        finite = img[np.isfinite(img)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        if hi <= lo:
            hi = lo + (1.0 if lo == 0 else abs(lo) * 1e-3)
        self.image.setImage(img, levels=(lo, hi), autoLevels=False)
        self.colorbar.setLevels((lo, hi))
        dx, dy = pixel_size(g)
        self.image.setRect(QRectF(g.x0_um - dx / 2, g.y0_um - dy / 2, g.nx * dx, g.ny * dy))
        if gid != self._shown_grid:
            # a line map (one row) drawn to scale is a hairline: let it fill the plot's height instead
            self.plot.setAspectLocked(g.ny > 1 and g.nx > 1)
            self.plot.autoRange()
            self._shown_grid = gid
        n, total = self.model.filled_count(gid)
        self.filled.setText(f"{n}/{total} pixels")

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
        self.colorbar.axis.setLabel("Xc" if quantity == "Xc" else "counts·cm⁻¹")
        self.dirty = True
        self.refresh()

    def _window_changed(self, *_: object) -> None:
        if self.model.quantity == "custom":
            self.model.set_quantity("custom", (self.lo.value(), self.hi.value()))
            self.refresh()

    def _grid_chosen(self, index: int) -> None:
        gid = self.grid_choice.itemData(index)
        if gid is not None:
            self.model.current_grid = int(gid)
            self.dirty = True
            self.refresh()

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
