"""``nanocell bench fit``: Raman map fits per second, batch path against one-by-one, in the same run.

A synthetic map (a line along a Si wire whose crystalline fraction and signal vary, Poisson + read noise, a
few cosmic rays; ``--empty`` adds that fraction of off-wire pixels with no Si band) is fitted by
:func:`~nanocell_daq.analysis.raman_map.fit_map` twice: with the batch fit (every pixel) and one by one with
``fit_si`` (the first ``--single`` pixels, to bound the time), best of ``--repeat``. The agreement of the
two on those pixels is reported with the speeds. The last line is one JSON object.

Off-wire pixels have no band for the fit to find: both paths report the reduced model's fit there (a band
absent: area 0 or at its nominal shape, with upper limits); ``n_absent`` says how many pixels lack a band.
``fallback`` says how many spectra the batch handed to ``fit_si``, and why; ``n_batch`` how many it fitted.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import numpy as np
import typer

from nanocell_daq.cli.bench_commands import bench_app
from nanocell_daq.errors import UserError

TARGET_SPEEDUP = 30.0
_ERRORS = ("c_position_err", "c_fwhm_err", "c_area_err", "a_position_err", "a_fwhm_err", "a_area_err")


def synthetic_map(n: int, empty: float = 0.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(axis cm-1, spectra (n, 1024) counts, positions (n, 2) um) of a line map along a wire."""
    from nanocell_daq.analysis.raman import si_model

    rng = np.random.default_rng(seed)
    axis = np.linspace(100.0, 1800.0, 1024)
    along = np.linspace(0.0, 1.0, n)
    total = rng.uniform(8000.0, 40000.0, n)
    xc = 0.15 + 0.7 * along
    off = rng.random(n) < empty
    c_area = np.where(off, 0.0, total * xc)
    a_area = np.where(off, 0.0, total * (1 - xc) / 0.8)
    params = np.column_stack([c_area, rng.uniform(515.0, 521.0, n), rng.uniform(3.2, 6.0, n), a_area,
                              rng.uniform(470.0, 482.0, n), rng.uniform(55.0, 85.0, n),
                              rng.uniform(100.0, 400.0, n), rng.uniform(-0.1, 0.1, n)])
    clean = np.array([si_model(axis, p) for p in params])
    spectra = rng.poisson(np.clip(clean, 0, None)) + rng.normal(0.0, 5.0, clean.shape)
    hit = rng.random(n) < 0.03  # cosmic rays, anywhere in the spectrum
    spectra[hit, rng.integers(0, axis.size, int(hit.sum()))] += rng.uniform(500.0, 5000.0, int(hit.sum()))
    positions = np.column_stack([100.0 + 20.0 * along, np.full(n, 200.0)])
    return axis, spectra, positions


def bench_fit(
    n: int = 2000, single: int = 200, empty: float = 0.0, seed: int = 0, repeat: int = 3
) -> dict[str, Any]:
    """Time both paths (best of ``repeat``: the machine is shared) and compare them; the figures as a dict."""
    from nanocell_daq.analysis.raman_batch import BatchStats
    from nanocell_daq.analysis.raman_map import fit_map

    if n < 1 or single < 1 or repeat < 1 or not 0.0 <= empty <= 1.0:
        raise UserError("bench fit: --n, --single and --repeat must be >= 1 and --empty within 0..1")
    single = min(single, n)
    axis, spectra, pos = synthetic_map(n, empty, seed)
    sub, sub_pos = spectra[:single], pos[:single]
    t_batch = t_single = float("inf")
    for _ in range(repeat):  # interleaved, so both paths see the same load
        stats = BatchStats()
        t0 = time.perf_counter()
        got = fit_map(axis, spectra, pos, stats=stats)
        t_batch = min(t_batch, time.perf_counter() - t0)
        t0 = time.perf_counter()
        one = fit_map(axis, sub, sub_pos, batch=False)
        t_single = min(t_single, time.perf_counter() - t0)
    both = fit_map(axis, sub, sub_pos)

    def max_diff(col: str, rel: bool = False) -> float:
        """Largest difference of ``col`` (relative: to the value, or to its error for an area at zero)."""
        a, b = both[col].to_numpy(float), one[col].to_numpy(float)
        ref = np.abs(b)
        if rel and f"{col}_err" in one:
            ref = np.maximum(ref, one[f"{col}_err"].to_numpy(float))
        ok = np.isfinite(a) & np.isfinite(b)
        d = np.abs(a - b)[ok] / (ref[ok] if rel else 1.0)
        return float(d.max()) if d.size else 0.0

    batch_rate, single_rate = n / t_batch, single / t_single
    figures = {
        "n_spectra": n,
        "n_single": single,
        "repeat": repeat,
        "empty_fraction": empty,
        "batch_spectra_per_s": float(f"{batch_rate:.4g}"),
        "single_spectra_per_s": float(f"{single_rate:.4g}"),
        "speedup": float(f"{batch_rate / single_rate:.3g}"),
        "speedup_target": TARGET_SPEEDUP,
        "within_target": batch_rate / single_rate >= TARGET_SPEEDUP,
        "n_batch": stats.n_batch,
        "n_fallback": stats.n_fallback,
        "n_absent": int((~got["c_significant"].astype(bool) | ~got["a_significant"].astype(bool)).sum()),
        "fallback": dict(stats.fallback),
        "max_position_diff_cm1": float(f"{max(max_diff('c_position'), max_diff('a_position')):.3g}"),
        "max_width_rel_diff": float(f"{max(max_diff('c_fwhm', True), max_diff('a_fwhm', True)):.3g}"),
        "max_area_rel_diff": float(f"{max(max_diff('c_area', True), max_diff('a_area', True)):.3g}"),
        "max_upper_rel_diff": float(
            f"{max(max_diff('c_area_upper', True), max_diff('a_area_upper', True)):.3g}"),
        "max_error_rel_diff": float(f"{max(max_diff(c, True) for c in _ERRORS):.3g}"),
    }
    return figures


@bench_app.command("fit")
def bench_fit_command(
    n: int = typer.Option(2000, "--n", help="Spectra in the synthetic map (fitted by the batch path)."),
    single: int = typer.Option(200, "--single", help="Of those, how many the one-by-one path fits."),
    empty: float = typer.Option(0.0, "--empty", help="Fraction of off-wire pixels (no Si band)."),
    seed: int = typer.Option(0, "--seed", help="Random seed of the synthetic map."),
    repeat: int = typer.Option(3, "--repeat", help="Timings repeated; the best one counts."),
) -> None:
    """Raman map fits per second: batch against one by one (fit_si), their ratio and agreement; JSON last."""
    figures = bench_fit(n, single, empty, seed, repeat)
    for k, v in figures.items():
        typer.echo(f"{k}: {v}", err=True)
    typer.echo(json.dumps(figures))
    sys.stdout.flush()
