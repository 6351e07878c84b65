"""Growing numpy buffers and a min/max envelope, so a days-long trace (millions of points) draws fast.

``DecimatedTrace`` keeps every raw point (amortized O(1) appends) plus the min and max of fixed-size blocks of
consecutive points. The block size doubles whenever the number of blocks passes ``2 * target``, so the
envelope stays between ``target`` and ``2 * target`` blocks whatever the length, and appending N points costs
O(N) amortized. Drawing the min and the max of each block (in their order of occurrence) keeps every spike a
plain stride would lose; zooming in (``window``) recomputes the envelope of the visible part only.
"""

from __future__ import annotations

import numpy as np


class GrowingArray:
    """A 1-D numpy array with amortized O(1) ``extend`` (capacity doubles); ``.view`` is the filled part."""

    def __init__(self, dtype: type | np.dtype = np.float64, capacity: int = 1024) -> None:
        self._data = np.empty(max(capacity, 16), dtype=dtype)
        self._n = 0

    def extend(self, values: np.ndarray) -> None:
        """Append ``values`` (any 1-D array-like)."""
        values = np.asarray(values, dtype=self._data.dtype).ravel()
        need = self._n + len(values)
        if need > len(self._data):
            grown = np.empty(max(need, 2 * len(self._data)), dtype=self._data.dtype)
            grown[: self._n] = self._data[: self._n]
            self._data = grown
        self._data[self._n : need] = values
        self._n = need

    def clear(self) -> None:
        """Forget every value (keeps the capacity)."""
        self._n = 0

    @property
    def view(self) -> np.ndarray:
        """The filled part (a view: do not keep it across ``extend``)."""
        return self._data[: self._n]

    def __len__(self) -> int:
        return self._n


def _block_extrema(y: np.ndarray, block: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Min, max and their offsets within each block of ``block`` points; NaNs never win."""
    rows = y.reshape(-1, block)
    lo_src = np.where(np.isnan(rows), np.inf, rows)
    hi_src = np.where(np.isnan(rows), -np.inf, rows)
    imin = lo_src.argmin(axis=1)
    imax = hi_src.argmax(axis=1)
    r = np.arange(len(rows))
    return rows[r, imin], rows[r, imax], imin, imax


def envelope(x: np.ndarray, y: np.ndarray, buckets: int) -> tuple[np.ndarray, np.ndarray]:
    """Min/max decimation of ``(x, y)`` to at most ``2 * buckets + 2`` points (raw if already that short);
    the first and the last point are kept unless NaN (the drawn line spans the whole data)."""
    n = len(y)
    if n <= 2 * buckets:
        return x.copy(), y.copy()
    block = int(np.ceil(n / buckets))
    full = (n // block) * block
    _, _, imin, imax = _block_extrema(y[:full], block)
    base = np.arange(0, full, block)
    idx = np.sort(np.stack([base + imin, base + imax], axis=1), axis=1).ravel()
    ends = (
        [0] if idx[0] and np.isfinite(y[0]) else [],
        [n - 1] if full == n and idx[-1] != n - 1 and np.isfinite(y[-1]) else [],
    )
    idx = np.concatenate([ends[0], idx, np.arange(full, n), ends[1]]).astype(np.int64)
    return x[idx], y[idx]


class DecimatedTrace:
    """A growing (x, y) trace with an incrementally maintained min/max envelope of ~``target`` blocks.

    ``x`` should be non-decreasing (time) for ``window``; ``envelope`` works for any x.
    """

    def __init__(self, target: int = 2000) -> None:
        self.target = int(target)
        self._x = GrowingArray()
        self._y = GrowingArray()
        self._block = 1
        self._done = 0  # raw points covered by complete blocks
        self._imin = GrowingArray(np.int64)  # absolute indices of each block's min and max
        self._imax = GrowingArray(np.int64)
        self._cache: tuple[np.ndarray, np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self._x)

    @property
    def block(self) -> int:
        """Raw points per envelope block (a power of two)."""
        return self._block

    @property
    def x(self) -> np.ndarray:
        """All raw x values (view)."""
        return self._x.view

    @property
    def y(self) -> np.ndarray:
        """All raw y values (view)."""
        return self._y.view

    def clear(self) -> None:
        """Forget every point."""
        self.__init__(self.target)  # type: ignore[misc]

    def extend(self, x: np.ndarray, y: np.ndarray) -> None:
        """Append points (same length); updates only the new blocks of the envelope."""
        x = np.asarray(x, dtype=np.float64).ravel()
        y = np.asarray(y, dtype=np.float64).ravel()
        if len(x) != len(y):
            raise ValueError(f"x has {len(x)} values, y has {len(y)}")
        if not len(x):
            return
        self._x.extend(x)
        self._y.extend(y)
        self._cache = None
        self._fill_blocks()
        while len(self._imin) > 2 * self.target:
            self._coarsen()

    def _fill_blocks(self) -> None:
        n = len(self._y)
        full = self._done + ((n - self._done) // self._block) * self._block
        if full == self._done:
            return
        _, _, imin, imax = _block_extrema(self._y.view[self._done : full], self._block)
        base = np.arange(self._done, full, self._block)
        self._imin.extend(base + imin)
        self._imax.extend(base + imax)
        self._done = full

    def _coarsen(self) -> None:
        """Merge pairs of blocks (block size doubles); an odd last block goes back to the raw tail."""
        y = self._y.view
        nb = len(self._imin) // 2 * 2
        imin = self._imin.view[:nb].reshape(-1, 2)
        imax = self._imax.view[:nb].reshape(-1, 2)
        lo = np.where(np.isnan(y[imin]), np.inf, y[imin])
        hi = np.where(np.isnan(y[imax]), -np.inf, y[imax])
        r = np.arange(len(imin))
        new_min = imin[r, lo.argmin(axis=1)]
        new_max = imax[r, hi.argmax(axis=1)]
        self._block *= 2
        self._done = len(new_min) * self._block
        self._imin.clear()
        self._imax.clear()
        self._imin.extend(new_min)
        self._imax.extend(new_max)
        self._fill_blocks()

    def envelope(self) -> tuple[np.ndarray, np.ndarray]:
        """Points to draw the whole trace: min and max of each block in order, then the raw tail."""
        if self._cache is None:
            lo, hi = self._imin.view, self._imax.view
            if self._block == 1:
                idx = lo.copy()
            else:
                idx = np.stack([np.minimum(lo, hi), np.maximum(lo, hi)], axis=1).ravel()
            idx = np.concatenate([idx, np.arange(self._done, len(self._y))])
            self._cache = (self._x.view[idx], self._y.view[idx])
        return self._cache

    def window(self, x0: float, x1: float, buckets: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Points to draw the part with ``x0 <= x <= x1`` at full detail (min/max of ~``buckets`` buckets).

        Costs O(points in the window), so a zoom on a few hours of a days-long run is exact and quick.
        """
        buckets = buckets or self.target
        x = self._x.view
        i0 = max(int(np.searchsorted(x, x0, side="left")) - 1, 0)
        i1 = min(int(np.searchsorted(x, x1, side="right")) + 1, len(x))
        if (i1 - i0) >= (buckets // 2) * self._block > buckets:  # wide: the envelope is detailed enough
            ex, ey = self.envelope()
            j0, j1 = np.searchsorted(ex, x0), np.searchsorted(ex, x1, side="right")
            return ex[max(j0 - 1, 0) : j1 + 1], ey[max(j0 - 1, 0) : j1 + 1]
        return envelope(x[i0:i1], self._y.view[i0:i1], buckets)
