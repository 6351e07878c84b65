"""A synthetic run written through the store API, for GUI tests, the benchmark and screenshots.

Numbers follow the domain notes' magnitudes: +-20 pA galvanostatic cycling between 2.5 and 3.95 V, S/D I-V
at +-0.5 V with conductance falling from ~1 uS by decades, Raman spectra with the c-Si line at 520 cm-1, the
a-Si band near 480 cm-1 on a line/area map.
"""

from __future__ import annotations

import numpy as np

from nanocell_daq.storage import Store

AXIS = np.linspace(100.0, 1000.0, 600)


def raman_counts(xc: float, rng: np.random.Generator, scale: float = 1000.0) -> np.ndarray:
    """A Si spectrum (counts) with crystalline fraction ``xc``: c-Si Lorentzian + a-Si Gaussian + noise."""
    c = xc * scale / (1 + ((AXIS - 520.0) / 2.5) ** 2)
    a = (1 - xc) * 0.35 * scale * np.exp(-0.5 * ((AXIS - 480.0) / 25.0) ** 2)
    base = 60 + 0.05 * (AXIS - 100)
    return (c + a + base + rng.normal(0, 6, AXIS.size)).astype(np.float32)


def halfcycle(n: int, charge: bool, t0: float, dt: float = 2.0) -> tuple[np.ndarray, ...]:
    """t (s), E (V), I (A), Q (C) of one galvanostatic half-cycle of ``n`` points."""
    x = np.linspace(0, 1, n)
    current = 2e-11 if charge else -2e-11
    shape = 3.2 + 0.45 * np.tanh((x - 0.5) * 3) + 0.3 * x**8 - 0.25 * (1 - x) ** 8
    e = shape if charge else shape[::-1] - 0.08
    e = 2.5 + (e - e.min()) / (e.max() - e.min()) * 1.45
    t = t0 + np.arange(n) * dt
    i = np.full(n, current) * (1 + 0.01 * np.sin(np.arange(n) / 7.0))
    q = np.cumsum(i) * dt
    return t, e, i, q


def write_demo_run(
    store: Store,
    *,
    cycles: int = 2,
    points_per_half: int = 400,
    map_nx: int = 20,
    map_ny: int = 5,
    finish: bool = True,
    seed: int = 0,
) -> int:
    """Write a complete demo run (pristine + ``cycles`` cycles with I-V and maps); returns its id."""
    rng = np.random.default_rng(seed)
    dev = store.add_device("DEMO-SI-01", wire="Si/a-Si core/shell nanowire")
    run = store.create_run("demo: pristine, then I-V and map after each half-cycle", device_id=dev)
    axis_id = store.add_axis(AXIS)
    index = 0
    t0 = 0.0
    g = 1e-6
    xc = 0.95
    with store.writer(flush_interval=0.05) as w:

        def checkpoint(label: str, cycle: int | None) -> None:
            nonlocal index, g, xc
            step = store.start_step(run, index, "iv", {"v_max_V": 0.5}, cycle=cycle, label=label)
            index += 1
            v = np.r_[np.linspace(-0.5, 0.5, 21), np.linspace(0.5, -0.5, 21)]
            nonlin = 1 + 8 * (1 - g / 1e-6)
            i = g * v * (1 + nonlin * v**2) + rng.normal(0, 2e-13, v.size)
            for k, (vv, ii) in enumerate(zip(v, i, strict=True)):
                w.iv_point(step, float(vv), float(ii), "up" if k < 21 else "down", "S-D")
            store.end_step(step)
            step = store.start_step(run, index, "raman_map", {}, cycle=cycle, label=label)
            index += 1
            grid = store.add_map_grid(run, 100.0, 199.0, 0.5, 0.5, map_nx, map_ny, step_id=step, label=label)
            for iy in range(map_ny):
                for ix in range(map_nx):
                    local = xc * (0.6 + 0.4 * np.exp(-((ix - map_nx / 2) ** 2) / (map_nx**2 / 8)))
                    w.spectrum(
                        step,
                        100.0 + 0.5 * ix,
                        199.0 + 0.5 * iy,
                        0.0,
                        1.0,
                        raman_counts(float(local), rng),
                        axis_id,
                        grid_id=grid,
                        pixel=iy * map_nx + ix,
                    )
            store.end_step(step)
            g /= 6.0
            xc *= 0.55

        checkpoint("pristine", None)
        for c in range(1, cycles + 1):
            for charge in (True, False):
                label = f"{'charge' if charge else 'discharge'} {c}"
                step = store.start_step(run, index, "galvanostatic", {}, cycle=c, label=label)
                index += 1
                t, e, i, q = halfcycle(points_per_half, charge, t0)
                for row in zip(t, e, i, q, strict=True):
                    w.cycling_point(step, *map(float, row))
                t0 = float(t[-1]) + 60
                store.end_step(step)
                store.log_event(run, "info", f"{label}: reached cutoff at {e[-1]:.2f} V")
                store.set_progress(run, label, index / (2 + 4 * cycles), 3600.0 * (cycles - c + 1))
                checkpoint(f"after {label}", c)
    if finish:
        store.finish_run(run, "completed")
    return run
