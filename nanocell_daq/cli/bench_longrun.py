"""``nanocell bench longrun``: ``analyze`` and ``report`` on a synthetic week-long run.

The run is written through the store API the engine uses (``store.start_step`` / ``end_step`` /
``set_progress``, one ``Writer`` for the points with a ``flush()`` per block, as the engine's writer commits
one block per flush interval): at ``--scale 1`` 10 M cycling points over 124 galvanostatic half-cycles (a week
at ~16 points/s, blocks of ``--block`` points = 0.5 s of data) with a rest before every checkpoint, and 125
checkpoints (pristine, then after every half-cycle), each with 16 I-V sweeps (4 steps x 4 contact pairs, 21
points up and down as in the shipped protocols) and a 40 x 20 Raman map (1024-channel spectra: c-Si + a-Si
bands, Poisson and read noise, cosmic rays, a few off-wire pixels) - 2,000 sweeps and 100,000 spectra in all.
``--scale`` shrinks every size (the half-cycles and checkpoints with its square root).

Then, each in a child process of its own forked from a clean server (``multiprocessing`` "forkserver", the
analysis modules imported there once), so that its peak resident set (``ru_maxrss`` of that child, which
includes those imports) is its own: ``analyze`` (the function ``nanocell analyze`` calls, and its summary
text), ``analyze`` again with the same parameters (derived results reused), and ``report`` (``write_report``,
a PDF by default). The baseline, measured in the same run, is the time to read every cycling block and
every spectrum of the run through the database driver's cursor (no decoding). The last line is one JSON
object.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import shutil
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import typer

from nanocell_daq.cli.bench_commands import bench_app
from nanocell_daq.errors import UserError

TARGETS = {"analyze_s": 60.0, "report_s": 60.0, "analyze_again_s": 2.0, "peak_rss_mb": 2048.0}
FULL = {"cycling_points": 10_000_000, "iv_sweeps": 2_000, "spectra": 100_000}
WEEK_S = 7 * 24 * 3600.0
PAIRS = ("S-D", "S-1", "1-2", "2-D")
SWEEP_POINTS = 21  # per direction, as in the shipped protocols
AXIS = np.linspace(100.0, 1000.0, 1024)
V_LIMITS = (2.5, 3.95)


@dataclass(frozen=True)
class Plan:
    """Sizes of the synthetic run."""

    half_cycles: int
    checkpoints: int
    points_per_half: tuple[int, ...]
    rest_points: int
    sweeps_per_checkpoint: int
    map_nx: int
    map_ny: int

    def sizes(self) -> dict[str, int]:
        """The totals the run is built with."""
        return {
            "cycling_points": sum(self.points_per_half) + self.rest_points * self.checkpoints,
            "iv_sweeps": self.sweeps_per_checkpoint * self.checkpoints,
            "spectra": self.map_nx * self.map_ny * self.checkpoints,
            "half_cycles": self.half_cycles,
            "checkpoints": self.checkpoints,
        }


def _grid(n: int) -> tuple[int, int]:
    """(nx, ny) with nx * ny = n, nx about twice ny (a line map when n is prime)."""
    ny = max(d for d in range(1, math.isqrt(max(n // 2, 1)) + 1) if n % d == 0)
    return n // ny, ny


def plan(scale: float) -> Plan:
    """The run's layout at ``scale`` (1.0: 10 M points, 2,000 sweeps, 100,000 spectra)."""
    if not 0 < scale <= 1.0:
        raise UserError(f"bench longrun: --scale must be within (0, 1], got {scale}")
    half = max(2, 2 * round(62 * math.sqrt(scale)))
    cps = half + 1
    spectra = max(4, round(FULL["spectra"] * scale / cps))
    nx, ny = _grid(spectra)
    sweeps = max(1, round(FULL["iv_sweeps"] * scale / cps))
    rest = max(4, round(0.02 * FULL["cycling_points"] * scale / cps))
    on_half = max(20 * half, round(FULL["cycling_points"] * scale) - rest * cps)
    base, extra = divmod(on_half, half)
    return Plan(half, cps, tuple(base + (k < extra) for k in range(half)), rest, sweeps, nx, ny)


# ---- building the run ------------------------------------------------------------------------------------


def _half_cycle_points(n: int, charge: bool, k: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """E (V) and I (A) of a half-cycle of ``n`` points that ends just beyond its cut-off; capacity fading."""
    x = np.linspace(0.0, 1.0, n)
    shape = 3.2 + 0.45 * np.tanh((x - 0.5) * 3) + 0.3 * x**8 - 0.25 * (1 - x) ** 8
    e = shape if charge else shape[::-1] - 0.08
    low, high = V_LIMITS
    e = low + (e - e.min()) / (e.max() - e.min()) * (high - low) + rng.normal(0.0, 2e-4, n)
    e[-1] = high + 0.001 if charge else low - 0.001
    fade = 0.999**k
    i = (2e-11 if charge else -1.96e-11) * fade * (1 + 0.01 * rng.standard_normal(n))
    return e, i


def _spectra(n: int, nx: int, xc0: float, rng: np.random.Generator) -> np.ndarray:
    """(n, 1024) counts of a map: Xc falling along the wire from ``xc0``, off-wire pixels without Si bands."""
    from nanocell_daq.analysis.raman import si_model

    along = (np.arange(n) % nx) / max(nx - 1, 1)
    xc = np.clip(xc0 * (1.0 - 0.3 * along), 0.0, 1.0)
    total = rng.uniform(8000.0, 40000.0, n)
    off = rng.random(n) < 0.05
    params = np.array([np.where(off, 0.0, total * xc), rng.uniform(515.0, 521.0, n), rng.uniform(3.2, 6.0, n),
                       np.where(off, 0.0, total * (1 - xc) / 0.8), rng.uniform(470.0, 482.0, n),
                       rng.uniform(55.0, 85.0, n), rng.uniform(100.0, 400.0, n), rng.uniform(-0.1, 0.1, n)])
    clean = si_model(AXIS, params[:, :, None])
    counts = rng.poisson(np.clip(clean, 0, None)) + rng.normal(0.0, 5.0, clean.shape)
    hit = np.nonzero(rng.random(n) < 0.03)[0]  # cosmic rays
    counts[hit, rng.integers(0, AXIS.size, hit.size)] += rng.uniform(500.0, 5000.0, hit.size)
    return counts


def build_run(store: Any, p: Plan, *, block: int = 8, seed: int = 0) -> int:
    """Write the synthetic run into ``store`` (see the module doc); returns its id."""
    rng = np.random.default_rng(seed)
    dev = store.add_device("LONGRUN-SI-01", wire="Si/a-Si core/shell nanowire (synthetic week)",
                           extra={"nominal_capacity_Ah": 2.7e-11})
    run = store.create_run("bench longrun: a week of cycling, I-V and a Raman map at every checkpoint",
                           "# synthetic run of nanocell bench longrun\n", device_id=dev)
    axis_id = store.add_axis(AXIS)
    total = p.sizes()["cycling_points"]
    dt = WEEK_S / total
    clock = 0.0
    index = 0
    with store.writer(flush_interval=0.5) as w:

        def step(kind: str, params: dict[str, Any], cycle: int | None, label: str) -> int:
            nonlocal index
            sid = store.start_step(run, index, kind, params, cycle=cycle, label=label)
            w.event(run, "info", f"step {index} {kind} '{label}' started", step_id=sid)
            index += 1
            return sid

        def end(sid: int, label: str) -> None:
            w.event(run, "info", f"'{label}' completed", step_id=sid)
            store.end_step(sid)

        def cycling(sid: int, e: np.ndarray, i: np.ndarray) -> None:
            nonlocal clock
            t = clock + dt * np.arange(1, e.size + 1)
            q = np.cumsum(i) * dt
            clock = float(t[-1])
            ts, es, cs, qs = t.tolist(), e.tolist(), i.tolist(), q.tolist()
            for k in range(0, len(ts), block):  # one block per flush, as the engine's writer stores them
                for j in range(k, min(k + block, len(ts))):
                    w.cycling_point(sid, ts[j], es[j], cs[j], qs[j])
                w.flush()

        def checkpoint(c: int, cycle: int | None, label: str, v_rest: float) -> None:
            nonlocal clock
            sid = step("rest", {"duration_s": p.rest_points * dt}, cycle, f"rest before {label}")
            relax = v_rest + 0.02 * np.exp(-np.linspace(0, 5, p.rest_points))
            relax += rng.normal(0, 2e-4, p.rest_points)
            cycling(sid, relax, np.zeros(p.rest_points))
            end(sid, f"rest before {label}")
            g = 1e-6 * 10 ** (-3.0 * c / p.checkpoints)
            nonlin = 1 + 8 * c / p.checkpoints
            v = np.r_[np.linspace(-0.5, 0.5, SWEEP_POINTS), np.linspace(0.5, -0.5, SWEEP_POINTS)]
            dirs = ["up"] * SWEEP_POINTS + ["down"] * SWEEP_POINTS
            for first in range(0, p.sweeps_per_checkpoint, len(PAIRS)):
                pairs = PAIRS[: min(len(PAIRS), p.sweeps_per_checkpoint - first)]
                sid = step("iv", {"v_max_V": 0.5, "points": SWEEP_POINTS, "pairs": list(pairs)}, cycle, label)
                for n, pair in enumerate(pairs):
                    gp = g / (1 + 2 * n)
                    cur = gp * v * (1 + nonlin * v**2) + rng.normal(0, 2e-13, v.size)
                    for vv, ii, d in zip(v.tolist(), cur.tolist(), dirs, strict=True):
                        clock += 0.05
                        w.iv_point(sid, vv, ii, d, pair, clock)
                end(sid, label)
            sid = step("raman_map", {"nx": p.map_nx, "ny": p.map_ny, "accumulations": 1, "exposure_s": 1.0},
                       cycle, label)
            grid = store.add_map_grid(run, 100.0, 200.0, 0.25, 0.25, p.map_nx, p.map_ny, step_id=sid,
                                      label=label)
            n = p.map_nx * p.map_ny
            counts = _spectra(n, p.map_nx, 0.9 * 0.985**c, rng)
            for pix in range(n):
                clock += 1.0
                ix, iy = pix % p.map_nx, pix // p.map_nx
                w.spectrum(sid, 100.0 + 0.25 * ix, 200.0 + 0.25 * iy, 0.0, 1.0, counts[pix], axis_id,
                           grid_id=grid, pixel=pix, t=clock)
            end(sid, label)

        checkpoint(0, None, "pristine", 3.0)
        for k in range(p.half_cycles):
            charge = k % 2 == 0
            cycle = k // 2 + 1
            label = f"{'charge' if charge else 'discharge'} {cycle}"
            current = 2e-11 if charge else -1.96e-11
            limits = {"v_min_V": V_LIMITS[0], "v_max_V": V_LIMITS[1]}
            sid = step("galvanostatic", {"current_A": current, **limits}, cycle, label)
            e, i = _half_cycle_points(p.points_per_half[k], charge, k, rng)
            cycling(sid, e, i)
            w.event(run, "info", f"{label}: cut-off reached at {e[-1]:.3f} V", step_id=sid)
            end(sid, label)
            store.set_progress(run, label, (k + 1) / p.half_cycles, (p.half_cycles - k - 1) * 4800.0)
            checkpoint(k + 1, cycle, f"after {label}", float(e[-1]))
    store.finish_run(run, "completed")
    return run


# ---- the timed phases (each in a child process) ---------------------------------------------------------


def _phase(db: str, run_id: int, what: str, output: str) -> dict[str, Any]:
    """One timed phase in this (child) process: "analyze" or "report"; its figures and peak RSS."""
    import resource

    from nanocell_daq.storage import Store

    with Store.open(db, create=False) as store:
        t0 = time.perf_counter()
        if what == "analyze":  # what `nanocell analyze RUN` does
            from nanocell_daq.analysis.run_analysis import analyze_run

            result = analyze_run(store, run_id, 0.8, use_cache=True)
            text = result.summary()
            elapsed = time.perf_counter() - t0
            reuse = result.reuse.as_dict()
            extra = {"summary_lines": len(text.splitlines()), "n_cycling_points": result.n_cycling_points,
                     "plot_points": len(result.cycling_points), "checkpoints": len(result.checkpoints),
                     "pixels": sum(len(m) for m in result.maps.values()),
                     "parts_s": reuse.pop("parts_s"), "parts_cpu_s": reuse.pop("parts_cpu_s"),
                     "worker_peak_rss_mb": reuse.pop("worker_peak_rss_mb")}
        else:  # what `nanocell report RUN -o FILE` does
            from nanocell_daq.analysis.report import write_report

            write_report(store, run_id, output)
            elapsed = time.perf_counter() - t0
            reuse, extra = {}, {"report_bytes": Path(output).stat().st_size}
    return {"seconds": elapsed, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
            "reuse": reuse, **extra}


def _child(conn: Any, *args: Any) -> None:
    try:
        conn.send(("ok", _phase(*args)))
    except BaseException as exc:  # noqa: BLE001 - sent to the parent, which reports it
        conn.send(("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))
    finally:
        conn.close()


def _in_child(ctx: Any, *args: Any) -> dict[str, Any]:
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(child, *args), name="nanocell-bench-longrun")
    proc.start()
    child.close()
    try:
        status, value = parent.recv()
    except EOFError:
        status, value = "error", "the child process died without an answer (out of memory?)"
    finally:
        proc.join()
        parent.close()
    if status != "ok":
        raise UserError(f"bench longrun: {args[2]} failed in its child process: {value}")
    return value


def _context() -> Any:
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["nanocell_daq.cli.bench_longrun", "nanocell_daq.analysis.run_analysis",
                                "nanocell_daq.analysis.report",
                                "nanocell_daq.analysis.report_pages", "matplotlib.backends.backend_pdf"])
    return ctx


def _stop_forkserver() -> None:
    """End the forkserver process this bench started (it would otherwise live as long as this process)."""
    from multiprocessing import forkserver

    stop = getattr(getattr(forkserver, "_forkserver", None), "_stop", None)
    if stop is not None:
        stop()


def bench_longrun(scale: float = 1.0, db: str | None = None, block: int = 8, report: str = "pdf",
                  seed: int = 0, echo: Any = print) -> dict[str, Any]:
    """Build, time, measure; the figures as a dict (see the module doc)."""
    import resource

    from nanocell_daq.storage import Store

    if block < 1:
        raise UserError(f"bench longrun: --block must be >= 1, got {block}")
    if report not in ("pdf", "png"):
        raise UserError(f"bench longrun: --report must be pdf or png, got {report!r}")
    p = plan(scale)
    folder = Path(tempfile.mkdtemp(prefix="nanocell-longrun-"))
    target = db or str(folder / "longrun.db")
    try:
        ctx = _context()
        with Store.open(target) as store:
            echo(f"building {p.sizes()} into {store.location.shown} ...")  # (a URL's password hidden)
            t0 = time.perf_counter()
            run = build_run(store, p, block=block, seed=seed)
            build_s = time.perf_counter() - t0
            built = store.data_counts(run)
            t0 = time.perf_counter()
            cyc_bytes = store.raw_bytes(run, "cycling")
            read_cycling_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            spec_bytes = store.raw_bytes(run, "spectra")
            read_spectra_s = time.perf_counter() - t0
        build_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
        echo(f"built run {run} in {build_s:.1f} s: {built}")
        phases = {}
        for name, what in (("analyze", "analyze"), ("analyze_again", "analyze"), ("report", "report")):
            phases[name] = _in_child(ctx, target, run, what, str(folder / f"report.{report}"))
            echo(f"{name}: {phases[name]['seconds']:.2f} s, peak RSS {phases[name]['peak_rss_mb']:.0f} MB")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        _stop_forkserver()
    rss = {"build": round(build_rss, 1), **{k: round(v["peak_rss_mb"], 1) for k, v in phases.items()}}
    seconds = {k: round(v["seconds"], 3) for k, v in phases.items()}
    baseline_s = read_cycling_s + read_spectra_s
    return {
        "scale": scale,
        "db": "temporary SQLite file" if db is None else "given --db",
        "run_id": run,
        "sizes": p.sizes(),
        "built": built,
        "layout": asdict(p) | {"points_per_half": [min(p.points_per_half), max(p.points_per_half)],
                               "block_points": block, "report_format": report},
        "build_s": round(build_s, 2),
        "analyze_s": seconds["analyze"],
        "analyze_again_s": seconds["analyze_again"],
        "report_s": seconds["report"],
        "peak_rss_mb": rss,
        "rss_method": "ru_maxrss of a child process per phase, forked from a forkserver with the analysis "
                      "modules imported (included); build: the bench process itself",
        "reuse": {k: v["reuse"] for k, v in phases.items() if v["reuse"]},
        "analysis": {k: v for k, v in phases["analyze"].items()
                     if k not in ("seconds", "peak_rss_mb", "reuse")},
        "analysis_parts": "parts_s: wall seconds of the cold analyze per part (cycling summary; I-V fits: "
                          "starting and waiting for the child process that fits them alongside the rest; "
                          "Raman maps: the time the analysis waited for or fitted them itself while a worker "
                          "process fitted maps too; rest); parts_cpu_s: CPU seconds per part, the map "
                          "worker's included in raman, the I-V child's in iv, both in total; "
                          "worker_peak_rss_mb: the larger peak resident set of the two worker processes",
        "baseline": {"read_cycling_s": float(f"{read_cycling_s:.4g}"),
                     "read_spectra_s": float(f"{read_spectra_s:.4g}"),
                     "bytes": cyc_bytes + spec_bytes,
                     "what": "every cycling block and spectrum of the run read through the driver's cursor"},
        "ratios_to_baseline": {k: float(f"{v / baseline_s:.4g}") if baseline_s > 0 else None
                               for k, v in seconds.items()},
        "targets": TARGETS,
        "within_targets": {
            "analyze_s": seconds["analyze"] <= TARGETS["analyze_s"],
            "report_s": seconds["report"] <= TARGETS["report_s"],
            "analyze_again_s": seconds["analyze_again"] <= TARGETS["analyze_again_s"],
            "peak_rss_mb": max(*(rss[k] for k in phases), phases["analyze"].get("worker_peak_rss_mb", 0.0))
            <= TARGETS["peak_rss_mb"],
        },
    }


@bench_app.command("longrun")
def bench_longrun_command(
    scale: float = typer.Option(1.0, "--scale", help="Shrink every size by this factor (0 < F <= 1)."),
    db: str = typer.Option(None, "--db", help="Database (path or URL) to build the run in; default: a "
                           "temporary SQLite file, removed afterwards."),
    block: int = typer.Option(8, "--block", help="Cycling points per writer flush (block)."),
    report: str = typer.Option("pdf", "--report", help="Report format timed: pdf (all pages) or png."),
    seed: int = typer.Option(0, "--seed", help="Random seed of the synthetic run."),
) -> None:
    """A synthetic week-long run: analyze, analyze again (reused) and report timed, peak RSS; JSON last."""
    figures = bench_longrun(scale, db, block, report, seed, echo=lambda s: typer.echo(s, err=True))
    typer.echo(json.dumps(figures))
    sys.stdout.flush()
