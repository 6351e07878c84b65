"""Raman maps filling pixel by pixel: a band's intensity or the crystalline fraction Xc per pixel."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nanocell_daq.storage import MapGrid, SpectraData
from nanocell_daq.viewmodels.events import Signal

# Windows (cm-1) for the crystalline fraction when the analysis package gives no fit: c-Si TO phonon near
# 520 cm-1, a-Si broad TO band near 480 cm-1 (reference/domain-notes.md).
C_SI_BAND = (505.0, 535.0)
A_SI_BAND = (440.0, 500.0)
BANDS = {"c-Si 520": C_SI_BAND, "a-Si 480": A_SI_BAND, "total": (100.0, 1800.0)}


def band_intensity(axis: np.ndarray, counts: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Integrated counts x cm-1 in ``[lo, hi]`` cm-1 above a straight baseline through the window's ends.

    ``counts`` is (n, m) on ``axis`` (m,); returns (n,). NaN if the window holds fewer than 2 axis points.
    """
    counts = np.atleast_2d(counts).astype(np.float64)
    sel = (axis >= lo) & (axis <= hi)
    if sel.sum() < 2:
        return np.full(len(counts), np.nan)
    x = axis[sel]
    y = counts[:, sel]
    baseline = y[:, :1] + (y[:, -1:] - y[:, :1]) * ((x - x[0]) / (x[-1] - x[0]))[None, :]
    dx = np.diff(x)
    above = y - baseline
    return ((above[:, 1:] + above[:, :-1]) * 0.5 * dx[None, :]).sum(axis=1)


def crystalline_fraction(axis: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Xc = I(c-Si) / (I(c-Si) + I(a-Si)) from band areas (0..1); NaN where both are <= 0."""
    ic = np.clip(band_intensity(axis, counts, *C_SI_BAND), 0, None)
    ia = np.clip(band_intensity(axis, counts, *A_SI_BAND), 0, None)
    total = ic + ia
    out = np.full(len(total), np.nan)
    np.divide(ic, total, out=out, where=total > 0)
    return out


@dataclass
class _GridData:
    grid: MapGrid
    counts: np.ndarray | None  # (ny*nx, m) float32, allocated at the first spectrum
    filled: np.ndarray  # (ny*nx,) bool
    image: np.ndarray  # (ny, nx) float64, NaN where not measured yet


def pixel_size(grid: MapGrid) -> tuple[float, float]:
    """(width, height) in um of one pixel; a line map (a zero pitch) gets square pixels of the other pitch."""
    dx = grid.dx_um or grid.dy_um or 1.0
    return dx, grid.dy_um or abs(dx)


class MapModel:
    """Follows the map grids of a run; ``image(grid_id)`` is (ny, nx), row = y index; emits ``changed``.

    ``quantity`` is a band name of ``BANDS``, ``"Xc"``, or ``"custom"`` with ``window`` (lo, hi) cm-1.
    """

    QUANTITIES = (*BANDS, "Xc", "custom")

    def __init__(self) -> None:
        self.grids: dict[int, _GridData] = {}
        self.axis: np.ndarray = np.empty(0)
        self.quantity = "Xc"
        self.window: tuple[float, float] = C_SI_BAND
        self.current_grid: int | None = None
        self.changed = Signal("changed")  # (grid_id)
        self.grids_changed = Signal("grids_changed")

    def clear(self) -> None:
        """Forget every grid."""
        self.grids.clear()
        self.current_grid = None
        self.grids_changed.emit()

    def set_grids(self, grids: list[MapGrid]) -> None:
        """Know the run's map grids (new ones start empty)."""
        added = False
        for g in grids:
            if g.id not in self.grids:
                n = g.nx * g.ny
                self.grids[g.id] = _GridData(g, None, np.zeros(n, bool), np.full((g.ny, g.nx), np.nan))
                self.current_grid = g.id
                added = True
        if added:
            self.grids_changed.emit()

    def set_quantity(self, quantity: str, window: tuple[float, float] | None = None) -> None:
        """Show another quantity (recomputes every filled pixel)."""
        if quantity not in self.QUANTITIES:
            raise ValueError(f"unknown map quantity {quantity!r}; choose one of {', '.join(self.QUANTITIES)}")
        self.quantity = quantity
        if window is not None:
            self.window = (float(min(window)), float(max(window)))
        elif quantity in BANDS:
            self.window = BANDS[quantity]
        for gid, gd in self.grids.items():
            if gd.counts is not None:
                idx = np.flatnonzero(gd.filled)
                gd.image.flat[idx] = self._values(gd.counts[idx])
                self.changed.emit(gid)

    def _values(self, counts: np.ndarray) -> np.ndarray:
        if self.quantity == "Xc":
            return crystalline_fraction(self.axis, counts)
        return band_intensity(self.axis, counts, *self.window)

    def pixel_of(self, grid: MapGrid, x_um: float, y_um: float) -> int:
        """Pixel index (iy * nx + ix) of a stage position (um), -1 outside the grid."""
        ix = round((x_um - grid.x0_um) / grid.dx_um) if grid.dx_um else 0
        iy = round((y_um - grid.y0_um) / grid.dy_um) if grid.dy_um else 0
        if 0 <= ix < grid.nx and 0 <= iy < grid.ny:
            return iy * grid.nx + ix
        return -1

    def add(self, spectra: SpectraData) -> None:
        """Place the map spectra of a batch into their grids' pixels."""
        if not len(spectra):
            return
        if len(spectra.axis):
            self.axis = np.asarray(spectra.axis, dtype=np.float64)
        touched: set[int] = set()
        for gid in np.unique(spectra.grid_id):
            gd = self.grids.get(int(gid))
            if gd is None:
                continue
            rows = np.flatnonzero(spectra.grid_id == gid)
            pixels = spectra.pixel[rows].astype(np.int64)
            for k, r in enumerate(rows):
                if pixels[k] < 0:
                    pixels[k] = self.pixel_of(gd.grid, float(spectra.x_um[r]), float(spectra.y_um[r]))
            keep = pixels >= 0
            rows, pixels = rows[keep], pixels[keep]
            if gd.counts is None:
                gd.counts = np.zeros((gd.grid.nx * gd.grid.ny, spectra.counts.shape[1]), np.float32)
            gd.counts[pixels] = spectra.counts[rows]
            gd.filled[pixels] = True
            gd.image.flat[pixels] = self._values(spectra.counts[rows])
            touched.add(int(gid))
        for gid in touched:
            self.current_grid = gid
            self.changed.emit(gid)

    def image(self, grid_id: int | None = None) -> np.ndarray:
        """(ny, nx) values of the grid (NaN = not measured yet)."""
        gid = self.current_grid if grid_id is None else grid_id
        if gid is None or gid not in self.grids:
            return np.full((1, 1), np.nan)
        return self.grids[gid].image

    def filled_count(self, grid_id: int | None = None) -> tuple[int, int]:
        """(measured pixels, total pixels)."""
        gid = self.current_grid if grid_id is None else grid_id
        if gid is None or gid not in self.grids:
            return 0, 0
        gd = self.grids[gid]
        return int(gd.filled.sum()), gd.filled.size

    def pixel_at(self, x_um: float, y_um: float, grid_id: int | None = None) -> tuple[int, int] | None:
        """The (ix, iy) pixel whose square holds stage point (x_um, y_um) (um), or None outside the grid."""
        gid = self.current_grid if grid_id is None else grid_id
        gd = self.grids.get(gid) if gid is not None else None
        if gd is None:
            return None
        g = gd.grid
        dx, dy = pixel_size(g)
        ix = int(np.floor((x_um - g.x0_um) / dx + 0.5))
        iy = int(np.floor((y_um - g.y0_um) / dy + 0.5))
        return (ix, iy) if 0 <= ix < g.nx and 0 <= iy < g.ny else None

    def readout(self, x_um: float, y_um: float, grid_id: int | None = None) -> str:
        """What the map shows at a stage point: position (um), pixel, and the quantity's value there."""
        where = f"x {x_um:.2f} µm, y {y_um:.2f} µm"
        pixel = self.pixel_at(x_um, y_um, grid_id)
        if pixel is None:
            return where
        ix, iy = pixel
        value = float(self.image(grid_id)[iy, ix])
        shown = "not measured yet" if not np.isfinite(value) else (
            f"Xc {value:.2f}" if self.quantity == "Xc" else f"{self.quantity} {value:.4g} counts·cm⁻¹"
        )
        return f"{where} · pixel ({ix}, {iy}) · {shown}"

    def spectrum_at(self, ix: int, iy: int, grid_id: int | None = None) -> np.ndarray | None:
        """Counts of pixel (ix, iy) on ``self.axis``, or None if not measured (yet)."""
        gid = self.current_grid if grid_id is None else grid_id
        gd = self.grids.get(gid) if gid is not None else None
        if gd is None or gd.counts is None or not (0 <= ix < gd.grid.nx and 0 <= iy < gd.grid.ny):
            return None
        p = iy * gd.grid.nx + ix
        return gd.counts[p].astype(np.float64) if gd.filled[p] else None
