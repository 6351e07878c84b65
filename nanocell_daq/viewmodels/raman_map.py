"""Raman maps filling pixel by pixel: a band's intensity or the crystalline fraction Xc per pixel."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nanocell_daq.storage import MapGrid, SpectraData
from nanocell_daq.viewmodels.events import Signal
from nanocell_daq.viewmodels.live_fit_map import FAILED, FIELDS, QUEUED, LiveFitMap

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

    ``quantity`` is a band name of ``BANDS``, ``"Xc"`` (from band areas), or ``"custom"`` with ``window``
    (lo, hi) cm-1; with a ``LiveFitMap`` attached (``attach_fits``) also a fitted quantity of ``FIELDS``
    ("Xc fit", "c-Si position", "c-Si width"), filled in as the fits finish (NaN until then).
    """

    QUANTITIES = (*BANDS, "Xc", "custom")
    FIT_QUANTITIES = tuple(FIELDS)

    def __init__(self) -> None:
        self.fits: LiveFitMap | None = None
        self.grids: dict[int, _GridData] = {}
        self.axis: np.ndarray = np.empty(0)
        self.quantity = "Xc"
        self.window: tuple[float, float] = C_SI_BAND
        self.current_grid: int | None = None
        self.changed = Signal("changed")  # (grid_id)
        self.grids_changed = Signal("grids_changed")

    @property
    def quantities(self) -> tuple[str, ...]:
        """The quantities this map can show (the fitted ones only with a fitter attached)."""
        return (*self.QUANTITIES, *self.FIT_QUANTITIES) if self.fits is not None else self.QUANTITIES

    def attach_fits(self, fits: LiveFitMap) -> None:
        """Fit each pixel with ``fits`` as it arrives (and those here already); see ``collect_fits()``."""
        self.fits = fits
        fits.changed.connect(self.changed.emit)
        for gid, gd in self.grids.items():
            fits.set_grid(gid, gd.grid.nx, gd.grid.ny)
            if gd.counts is not None and gd.filled.any():
                fits.submit(gid, np.flatnonzero(gd.filled), self.axis, source=gd.counts)

    def collect_fits(self) -> set[int]:
        """Show the fits finished since the last call (cheap; call it from the GUI's timer)."""
        return self.fits.collect() if self.fits is not None else set()

    def clear(self) -> None:
        """Forget every grid."""
        self.grids.clear()
        if self.fits is not None:
            self.fits.clear()
        self.current_grid = None
        self.grids_changed.emit()

    def set_grids(self, grids: list[MapGrid]) -> None:
        """Know the run's map grids (new ones start empty)."""
        added = False
        for g in grids:
            if g.id not in self.grids:
                n = g.nx * g.ny
                self.grids[g.id] = _GridData(g, None, np.zeros(n, bool), np.full((g.ny, g.nx), np.nan))
                if self.fits is not None:
                    self.fits.set_grid(g.id, g.nx, g.ny)
                self.current_grid = g.id
                added = True
        if added:
            self.grids_changed.emit()

    def set_quantity(self, quantity: str, window: tuple[float, float] | None = None) -> None:
        """Show another quantity (recomputes every filled pixel)."""
        if quantity not in self.quantities:
            raise ValueError(f"unknown map quantity {quantity!r}; choose one of {', '.join(self.quantities)}")
        self.quantity = quantity
        if quantity in FIELDS:
            for gid in self.grids:
                self.changed.emit(gid)
            return
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
        if self.quantity in FIELDS:  # the raw image keeps band Xc; fitted values come from the fitter
            return crystalline_fraction(self.axis, counts)
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
            if self.fits is not None:  # the rows are read from gd.counts when fitted: no copy
                self.fits.submit(int(gid), pixels, self.axis, source=gd.counts)
            touched.add(int(gid))
        for gid in touched:
            self.current_grid = gid
            self.changed.emit(gid)

    def image(self, grid_id: int | None = None) -> np.ndarray:
        """(ny, nx) values of the grid (NaN = not measured yet)."""
        gid = self.current_grid if grid_id is None else grid_id
        if gid is None or gid not in self.grids:
            return np.full((1, 1), np.nan)
        if self.quantity in FIELDS:
            if self.fits is None or gid not in self.fits.grids:
                g = self.grids[gid].grid
                return np.full((g.ny, g.nx), np.nan)
            return self.fits.image(gid, self.quantity)
        return self.grids[gid].image

    def failed_mask(self, grid_id: int | None = None) -> np.ndarray | None:
        """(ny, nx) True where a pixel's fit failed, when a fitted quantity is shown; else None."""
        gid = self.current_grid if grid_id is None else grid_id
        if self.quantity not in FIELDS or self.fits is None or gid is None or gid not in self.fits.grids:
            return None
        return self.fits.failed_mask(gid)

    def no_value_mask(self, grid_id: int | None = None) -> np.ndarray | None:
        """(ny, nx) True where a shown fitted quantity has no value (no significant c-Si band); else None."""
        gid = self.current_grid if grid_id is None else grid_id
        if self.quantity not in FIELDS or self.fits is None or gid is None or gid not in self.fits.grids:
            return None
        return self.fits.no_value_mask(gid, self.quantity)

    def fit_summary(self, grid_id: int | None = None) -> str:
        """"fitted F, P pending, X failed" of a grid ("" without a fitter)."""
        gid = self.current_grid if grid_id is None else grid_id
        if self.fits is None or gid is None or gid not in self.fits.grids:
            return ""
        c = self.fits.counts(gid)
        parts = [f"fitted {c.fitted}"]
        if c.pending:
            parts.append(f"{c.pending} pending")
        if c.failed:
            parts.append(f"{c.failed} failed")
        return ", ".join(parts)

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
        if self.quantity in FIELDS:
            return f"{where} · pixel ({ix}, {iy}) · {self._fit_readout(pixel, value, grid_id)}"
        shown = "not measured yet" if not np.isfinite(value) else (
            f"Xc {value:.2f}" if self.quantity == "Xc" else f"{self.quantity} {value:.4g} counts·cm⁻¹"
        )
        return f"{where} · pixel ({ix}, {iy}) · {shown}"

    def _fit_readout(self, pixel: tuple[int, int], value: float, grid_id: int | None) -> str:
        gid = self.current_grid if grid_id is None else grid_id
        gd = self.grids[gid]  # type: ignore[index]
        p = pixel[1] * gd.grid.nx + pixel[0]
        if not gd.filled[p]:
            return "not measured yet"
        if self.fits is None or gid not in self.fits.grids:
            return "not fitted"
        state = self.fits.pixel_state(gid, p)
        if state == QUEUED:
            return "fit pending"
        if state == FAILED:
            return f"fit failed ({self.fits.grids[gid].errors.get(p, 'unknown reason')})"
        if np.isfinite(value):
            unit = "" if self.quantity == "Xc fit" else " cm⁻¹"
            return f"{self.quantity} {value:.4g}{unit}"
        upper = float(self.fits.image(gid, "xc_upper").flat[p])
        limit = f" (Xc < {upper:.2f})" if np.isfinite(upper) else ""
        return f"no significant c-Si band{limit}"

    def spectrum_at(self, ix: int, iy: int, grid_id: int | None = None) -> np.ndarray | None:
        """Counts of pixel (ix, iy) on ``self.axis``, or None if not measured (yet)."""
        gid = self.current_grid if grid_id is None else grid_id
        gd = self.grids.get(gid) if gid is not None else None
        if gd is None or gd.counts is None or not (0 <= ix < gd.grid.nx and 0 <= iy < gd.grid.ny):
            return None
        p = iy * gd.grid.nx + ix
        return gd.counts[p].astype(np.float64) if gd.filled[p] else None
