"""LiveFitMap (no Qt): map pixels are fitted on a worker as they arrive, never on the submitting thread."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from nanocell_daq.viewmodels.live_fit_map import FAILED, FITTED, FitCounts, LiveFitMap, fit_pixels

GATE = threading.Event()  # the gated fake fitter waits for it (thread worker)


def gated_fitter(axis: np.ndarray, counts: np.ndarray) -> dict[str, np.ndarray]:
    """A slow fake fit: waits for ``GATE``; Xc = the spectrum's first count, position 500 + Xc."""
    GATE.wait(30)
    return _fake(counts)


def sleepy_fitter(axis: np.ndarray, counts: np.ndarray) -> dict[str, np.ndarray]:
    """A fit that takes a minute (for closing with a fit in flight in a worker process)."""
    time.sleep(60)
    return _fake(counts)


def _fake(counts: np.ndarray) -> dict[str, np.ndarray]:
    xc = counts[:, 0].astype(float)
    ok = ~(xc < 0)  # NaN: fitted, no c-Si band
    return {"xc": xc, "xc_upper": xc, "c_position": 500 + xc, "c_fwhm": xc + 3, "success": ok}


def _spectra(values: list[float], m: int = 8) -> tuple[np.ndarray, np.ndarray]:
    return np.linspace(100.0, 1000.0, m), np.repeat(np.asarray(values, float)[:, None], m, axis=1)


@pytest.fixture
def gate():
    GATE.clear()
    yield GATE
    GATE.set()  # never leave a dispatcher thread waiting


def test_pixels_fill_in_off_the_calling_thread_with_a_slow_fitter(gate) -> None:
    fits = LiveFitMap(gated_fitter, worker="thread")
    seen: list[int] = []
    fits.changed.connect(seen.append)
    fits.set_grid(7, 3, 2)
    axis, counts = _spectra([0.1, 0.2, 0.3, 0.4])
    fits.submit(7, np.array([0, 1, 2, 3]), axis, counts)  # returns while the fit waits at the gate
    assert fits.counts(7).pending == 4 and fits.collect() == set()
    assert np.isnan(fits.image(7, "Xc fit")).all()  # not fitted yet: empty
    gate.set()
    assert fits.wait_idle(20)
    img = fits.image(7, "Xc fit")
    assert np.allclose(img.ravel()[:4], [0.1, 0.2, 0.3, 0.4]) and np.isnan(img.ravel()[4:]).all()
    assert np.allclose(fits.image(7, "c-Si position").ravel()[:4], [500.1, 500.2, 500.3, 500.4])
    assert fits.counts(7) == FitCounts(4, 0, 0) and 7 in seen
    me = (os.getpid(), threading.get_ident())
    assert fits.fits_on(*me) == 0 and sum(fits.ran_on.values()) == 4  # fitted, but not here
    fits.close()


def test_closing_with_fits_pending_returns_and_drops_them(gate) -> None:
    fits = LiveFitMap(gated_fitter, worker="thread", max_chunk=2)
    fits.set_grid(1, 10, 10)
    axis, counts = _spectra(list(np.linspace(0, 1, 100)))
    fits.submit(1, np.arange(100), axis, counts)
    fits.close(timeout_s=0.1)  # the fit in flight never finishes before the gate opens: close does not wait
    assert fits.closed and fits.counts(1).fitted == 0
    fits.submit(1, np.arange(3), axis, counts[:3])  # after close: ignored, no new thread
    gate.set()
    assert fits.collect() == set() and fits.counts(1).fitted == 0


def test_a_worker_process_mid_fit_is_stopped_on_close() -> None:
    fits = LiveFitMap(sleepy_fitter, worker="process")
    fits.set_grid(1, 2, 1)
    assert fits.ready.wait(60), "the fit worker process did not start"
    proc = fits._worker.proc
    fits.submit(1, np.array([0, 1]), *_spectra([0.5, 0.6]))
    fits.close(timeout_s=2.0)
    proc.join(5)
    assert not proc.is_alive() and fits.counts(1).fitted == 0


def test_a_failing_fit_marks_its_pixels_and_the_rest_go_on(gate) -> None:
    def fitter(axis: np.ndarray, counts: np.ndarray) -> dict[str, np.ndarray]:
        if (counts[:, 0] > 5).any():
            raise np.linalg.LinAlgError("SVD did not converge")
        return _fake(counts)

    gate.set()
    fits = LiveFitMap(fitter, worker="thread", max_chunk=2)
    errors: list[str] = []
    fits.error.connect(errors.append)
    fits.set_grid(1, 7, 1)
    axis, counts = _spectra([0.2, -1.0, 9.0, 0.4, 0.5, 0.6, np.nan])  # -1: the fit says no; 9: it raises
    for k in range(7):
        fits.submit(1, np.array([k]), axis, counts[k : k + 1])
    assert fits.wait_idle(20)
    state = [fits.pixel_state(1, k) for k in range(7)]
    assert state == [FITTED, FAILED, FAILED, FITTED, FITTED, FITTED, FITTED]
    assert np.flatnonzero(fits.failed_mask(1)).tolist() == [1, 2]
    assert np.flatnonzero(fits.no_value_mask(1, "Xc fit")).tolist() == [6]  # fitted, no c-Si band: grey
    assert "SVD did not converge" in fits.grids[1].errors[2] and any("SVD" in e for e in errors)
    assert np.isnan(fits.image(1, "Xc fit").ravel()[[1, 2]]).all()
    fits.close()


def test_a_pixel_measured_again_while_in_flight_is_refitted_with_its_new_spectrum(gate) -> None:
    fits = LiveFitMap(gated_fitter, worker="thread")
    fits.set_grid(1, 2, 1)
    axis, counts = _spectra([0.3, 0.7])
    fits.submit(1, np.array([0]), axis, counts[:1])
    deadline = time.monotonic() + 10
    while fits._pending and time.monotonic() < deadline:  # the dispatcher has taken it (waits at the gate)
        time.sleep(0.005)
    fits.submit(1, np.array([0]), axis, counts[1:])
    gate.set()
    assert fits.wait_idle(20)
    assert fits.pixel_state(1, 0) == FITTED and fits.image(1, "Xc fit")[0, 0] == pytest.approx(0.7)
    fits.close()


def test_the_default_fit_is_the_analysis_fit_of_the_chunk() -> None:
    from nanocell_daq.analysis.raman_map import fit_map
    from nanocell_daq.viewmodels.demo import AXIS, raman_counts

    rng = np.random.default_rng(3)
    counts = np.array([raman_counts(xc, rng) for xc in (0.9, 0.5, 0.2)])
    fits = LiveFitMap(worker="thread")
    fits.set_grid(1, 3, 1)
    fits.submit(1, np.arange(3), AXIS, counts)
    assert fits.wait_idle(60)
    table = fit_map(AXIS, counts.astype(np.float32))
    assert np.allclose(fits.image(1, "Xc fit")[0], table["xc"], equal_nan=True)
    assert np.allclose(fits.image(1, "c-Si width")[0], table["c_fwhm"], equal_nan=True)
    assert fits.image(1, "Xc fit")[0, 0] > fits.image(1, "Xc fit")[0, 2]
    fits.close()
    assert set(fit_pixels(AXIS, counts[:1])) == {"xc", "xc_upper", "c_position", "c_fwhm", "success"}


def test_the_map_model_shows_fitted_quantities_as_they_finish(tmp_path: Path, gate) -> None:
    from nanocell_daq.storage import Store
    from nanocell_daq.viewmodels import LiveRunModel
    from nanocell_daq.viewmodels.demo import write_demo_run

    store = Store.open(tmp_path / "runs.db")
    try:
        run = write_demo_run(store, cycles=0, points_per_half=5, map_nx=4, map_ny=2)
        live = LiveRunModel(store)
        fits = LiveFitMap(gated_fitter, worker="thread")
        live.map.attach_fits(fits)
        assert "Xc fit" in live.map.quantities and "Xc fit" not in LiveRunModel().map.quantities
        live.set_run(run)
        live.poll()
        live.map.set_quantity("Xc fit")
        assert np.isnan(live.map.image()).all() and live.map.fit_summary() == "fitted 0, 8 pending"
        assert "fit pending" in live.map.readout(100.0, 199.0)
        gate.set()
        assert fits.wait_idle(20)
        live.map.collect_fits()
        assert np.isfinite(live.map.image()).all() and live.map.fit_summary() == "fitted 8"
        assert "Xc fit" in live.map.readout(100.0, 199.0)
        live.map.set_quantity("c-Si 520")  # the raw maps are still there
        assert np.isfinite(live.map.image()).all() and live.map.failed_mask() is None
        live.set_run(None)  # another run: the fits are forgotten
        assert fits.grids == {}
        fits.close()
    finally:
        store.close()
