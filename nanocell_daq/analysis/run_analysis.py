"""Analyse one stored run: cycling, I-V, Raman maps and the checkpoint time line, cached in the store.

``analyze_run(store, run_id, y=0.8)`` reads the run through the store API, computes every metric, stores the
results back as derived results keyed by the analysis parameters, and returns a :class:`RunAnalysis`.
What is slow is stored and reused (:class:`~nanocell_daq.analysis.derived_cache.Reuse` counts what was
computed and what was reused), each keyed by its parameters and by the data it saw (rows and last row id, read
from the indexes without loading a row, so nothing is read to find out that nothing changed):

* the Raman pixel fits of each map step (not ``y``: Xc is recomputed from the stored band areas);
* the sweep metrics (G0 fits) of each I-V step;
* the cycling summary: half-cycles, dQ/dV, net charge per step and the points thinned for plots (at most
  about :data:`MAX_PLOT_POINTS`; ``n_cycling_points`` counts them all), computed reading one step at a time;
* the whole result, keyed by a fingerprint of everything the analysis reads (one per run, the latest): a
  second call with the same parameters on unchanged data decodes it and fits nothing.

Runs still running are analysed (the data so far) with a warning in ``RunAnalysis.warnings``; an unknown run,
or a run without any data point, raises :class:`~nanocell_daq.errors.UserError`.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from nanocell_daq import __version__
from nanocell_daq.analysis import correlation, map_pool
from nanocell_daq.analysis.band_intensity import normalised_intensities
from nanocell_daq.analysis.cycling import (
    HalfCycle,
    coulombic_flags,
    cycle_table,
    dqdv_of_attempts,
    half_cycle_table,
    merge_attempts,
    number_unnumbered,
    overshoots,
    soc_before_steps,
    step_points,
)
from nanocell_daq.analysis.derived_cache import PACKED, Reuse, decode, encode, pack_frame, unpack_frame
from nanocell_daq.analysis.frames import frame_to_json, jsonable
from nanocell_daq.analysis.iv import g0_text, iv_table
from nanocell_daq.analysis.iv_worker import IVWorker
from nanocell_daq.analysis.raman import NoiseModel, crystalline_fraction, reference_offset, xc_upper_limit
from nanocell_daq.analysis.raman_map import fit_map, map_summary, profile_along_wire
from nanocell_daq.analysis.segments import contact_split, pad_positions, segment_table
from nanocell_daq.analysis.specific_capacity import WireGeometry, wire_geometry
from nanocell_daq.errors import UserError
from nanocell_daq.storage.attempts import attempt_groups, superseded, unrecorded_charge_C
from nanocell_daq.storage.store import params_hash

log = logging.getLogger(__name__)

ANALYSIS_VERSION = 7  # 2: weighted Raman fits, Xc upper limits, frames, axis offset; 3: whole-sweep G0 fits;
# 4: absent Raman bands from the reduced model; 5: steps' and checkpoints' time_s on the engine clock;
# 6: converged G0 fits, Schottky from 14 points, G0 errors from a column-scaled covariance; 7: the G0 fits'
# starts solved by the batched solver (iv_solver), with starts of unequal contacts where the first fits badly
KIND_SUMMARY = "run_analysis"
KIND_MAP_FIT = "raman_map_fit"
KIND_CYCLING = "cycling_summary"
KIND_RESULT = "run_analysis_result"
KIND_IV_FIT = "iv_fit"
MAX_PLOT_POINTS = 100_000
"""Cycling points kept for plots (``RunAnalysis.cycling_points``) over the whole run, shared by its steps but
at least MIN_PLOT_POINTS_PER_STEP each (a week: 249 steps with points, ~125,000 kept of 10 M): a step with
more is thinned evenly (first, last and voltage extremes kept); the metrics always use every point."""
MIN_PLOT_POINTS_PER_STEP = 500
PARALLEL_MIN_SPECTRA = 3000
"""With at least this many spectra to fit (and two cores), the maps are fitted in a worker process too, while
this one computes the cycling and I-V (:class:`~nanocell_daq.analysis.map_pool.MapPool`)."""


@dataclass(frozen=True)
class AnalysisParams:
    """Settings of the analysis (the key of stored results).

    ``y``: a-Si/c-Si Raman cross-section ratio in Xc = Ic/(Ic + y·Ia); ``g0_window_V``: half-width of the
    zero-bias fit (V); ``high_bias_fraction``: top fraction of |V| for the high-bias slope;
    ``spike_threshold``: Whitaker-Hayes modified z-score; ``fit_window_cm1``: Si fit window (cm-1);
    ``baseline``: "none", "poly" or "als" before the fit; ``dqdv_bin_V``: voltage bin of dQ/dV (V);
    ``charge_sign``: +1 if a positive current charges the cell.
    """

    y: float = 0.8
    g0_window_V: float = 0.05
    high_bias_fraction: float = 0.2
    spike_threshold: float = 6.0
    fit_window_cm1: tuple[float, float] = (380.0, 600.0)
    baseline: str = "none"
    dqdv_bin_V: float = 0.005
    charge_sign: int = 1

    def key(self) -> dict[str, Any]:
        return jsonable({**asdict(self), "version": ANALYSIS_VERSION})

    def map_fit_key(self, step_id: int, n_spectra: int, last_id: int) -> dict[str, Any]:
        """Key of one map's pixel fits: fit settings and the spectra seen (not ``y``: Xc is recomputed)."""
        return jsonable(
            {
                "step_id": step_id,
                "n_spectra": n_spectra,
                "last_spectrum_id": last_id,
                "spike_threshold": self.spike_threshold,
                "fit_window_cm1": self.fit_window_cm1,
                "baseline": self.baseline,
                "version": ANALYSIS_VERSION,
                "format": PACKED,
            }
        )

    def iv_fit_key(self, step_id: int, n_points: int, last_id: int) -> dict[str, Any]:
        """Key of one I-V step's sweep metrics: the G0 settings and the points seen."""
        return jsonable({"step_id": step_id, "n_points": n_points, "last_point_id": last_id,
                         "g0_window_V": self.g0_window_V, "high_bias_fraction": self.high_bias_fraction,
                         "version": ANALYSIS_VERSION, "format": PACKED})

    def cycling_key(self, extent: tuple[int, int], steps: list[Any]) -> dict[str, Any]:
        """Key of a run's cycling summary: the blocks seen (count, last id), the steps (kind, cycle, label,
        status, parameters: cut-offs and resumed attempts come from them) and the cycling settings."""
        described = [[s.id, s.index, s.kind, s.cycle, s.label, s.status, s.parameters] for s in steps]
        return jsonable({"blocks": list(extent), "steps": params_hash({"steps": described}),
                         "charge_sign": self.charge_sign, "dqdv_bin_V": self.dqdv_bin_V,
                         "max_plot_points": MAX_PLOT_POINTS, "version": ANALYSIS_VERSION, "format": PACKED})


@dataclass
class RunAnalysis:
    """Everything computed for one run.

    ``checkpoints``: list of dicts (label, cycle, time_s, charge_passed_C, soc, conductance_S,
    conductance_err_S, conductance_significant, conductance_upper_limit_S, g0_method, nonlinearity,
    rectification, xc_mean, xc_pooled, iv_step_id, map_step_id, step_ids, per_pair, contact_split, and with a
    map csi_norm / asi_norm: mean c-Si / a-Si band area relative to the pristine map with ``_err`` and
    ``csi_norm_upper``, see :mod:`~nanocell_daq.analysis.band_intensity`); ``geometry``: the wire's material
    and size (:class:`~nanocell_daq.analysis.specific_capacity.WireGeometry`: mAh/g, Li per Si) or None;
    ``soc_definition``: how ``soc`` is defined (printed by ``analyze`` and the report);
    ``segments``: one row per I-V step and pair with the segment length and R = 1/G0; ``notes``: findings
    on the cycling (cut-off overshoots, coulombic efficiency > 1 with its likely cause);
    ``half_cycles``: list of dicts (cycle, direction, capacity_Ah, capacity_pAh, capacity_C, mean_voltage_V,
    energy_J, step_id, label, ...); tables as DataFrames; ``maps``: map step id -> pixel table;
    ``profiles``: map step id -> Xc profile along the wire; ``cycling_points``: the points for plots
    (thinned evenly per step beyond :data:`MAX_PLOT_POINTS` in all, with ``charge_curve_C``, the charge passed
    since the step started computed on every point).
    """

    run_id: int
    run: dict[str, Any]
    params: AnalysisParams
    checkpoints: list[dict[str, Any]] = field(default_factory=list)
    half_cycles: list[dict[str, Any]] = field(default_factory=list)
    cycle_table: pd.DataFrame = field(default_factory=pd.DataFrame)
    half_cycle_table: pd.DataFrame = field(default_factory=pd.DataFrame)
    dqdv: pd.DataFrame = field(default_factory=pd.DataFrame)
    iv_table: pd.DataFrame = field(default_factory=pd.DataFrame)
    timeline: pd.DataFrame = field(default_factory=pd.DataFrame)
    maps: dict[int, pd.DataFrame] = field(default_factory=dict)
    map_summaries: dict[int, dict[str, float]] = field(default_factory=dict)
    profiles: dict[int, pd.DataFrame] = field(default_factory=dict)
    cycling_points: pd.DataFrame = field(default_factory=pd.DataFrame)
    iv_points: pd.DataFrame = field(default_factory=pd.DataFrame)
    steps: pd.DataFrame = field(default_factory=pd.DataFrame)
    nominal_capacity_Ah: float | None = None
    wire: tuple | None = None  # (start, end) stage coordinates of the wire ends, um, if the station gave them
    soc_definition: str = ""
    segments: pd.DataFrame = field(default_factory=pd.DataFrame)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    maps_refitted: int = 0
    n_cycling_points: int = 0
    """Cycling points of the run (``cycling_points`` holds at most about MAX_PLOT_POINTS of them)."""
    reuse: Reuse = field(default_factory=Reuse)
    """What this analysis computed and what it took from the store's derived results."""
    geometry: WireGeometry | None = None  # material and size of the wire, where the device record has them

    @property
    def checkpoint_table(self) -> pd.DataFrame:
        """The checkpoints as a DataFrame (without the per-pair and contact-split dicts)."""
        drop = ("per_pair", "contact_split")
        rows = [{k: v for k, v in c.items() if k not in drop} for c in self.checkpoints]
        return pd.DataFrame(rows)

    def summary(self) -> str:
        """A few lines for a terminal: capacities per half-cycle, then one line per checkpoint."""
        r = self.run
        lines = [
            f"run {self.run_id} ({r.get('status')}): {r.get('protocol_name')} on {r.get('device') or '?'}"
        ]
        lines += [f"warning: {w}" for w in self.warnings]
        lines += [f"note: {n}" for n in self.notes]
        if self.soc_definition:
            lines.append(f"  {self.soc_definition}")
        for h in self.half_cycles:
            lines.append(
                f"  cycle {h['cycle']} {h['direction']:<9} {h['capacity_pAh']:8.4f} pAh "
                f"({h['capacity_C'] * 1e9:.3f} nC), mean {h['mean_voltage_V']:.3f} V"
                + (f", {self.geometry.mAh_per_g(h['capacity_C']):.0f} mAh/g "
                   f"({self.geometry.li_per_host(h['capacity_C']):.2f} Li per {self.geometry.material})"
                   if self.geometry else "")
            )
        for c in self.checkpoints:
            soc = (
                f"SOC {c['soc']:5.2f}" if c.get("soc") is not None and np.isfinite(c["soc"]) else "SOC   n/a"
            )
            g0 = g0_text(c["conductance_S"], c.get("conductance_err_S"),
                         c.get("conductance_significant", True), c.get("conductance_upper_limit_S"))
            lines.append(
                f"  {c['label']:<22} {soc}  G0 {g0:<26} NL {_num(c['nonlinearity'])}  Xc {_xc(c)}"
            )
            if np.isfinite(c.get("csi_norm", np.nan)):
                lines.append(f"  {'':<22} c-Si intensity / pristine {_norm_text(c)}")
            if c.get("xc_text"):
                lines.append(f"  {'':<22} Raman: {c['xc_text']}")
            split = c.get("contact_split") or {}
            if split.get("determined"):
                lines.append(f"  {'':<22} {split.get('text')}")
        return "\n".join(lines)


def _xc(c: dict[str, Any]) -> str:
    """Xc of a checkpoint: the mean, else the summed-area value, else "<limit" (no significant c-Si)."""
    for key in ("xc_mean", "xc_pooled"):
        x = c.get(key)
        if x is not None and np.isfinite(x):
            return _num(x)
    up = c.get("xc_upper")
    return f"<{up:.3f}" if up is not None and np.isfinite(up) else _num(None)


def _norm_text(c: dict[str, Any]) -> str:
    """c-Si (and a-Si) band area relative to the pristine map: "0.42 ± 0.03", or "< 0.05" (95 %)."""
    up = c.get("csi_norm_upper", np.nan)
    text = f"< {up:.3f} (95 %)" if np.isfinite(up) else f"{c['csi_norm']:.3f} ± {c['csi_norm_err']:.3f}"
    if np.isfinite(c.get("asi_norm", np.nan)):
        text += f"; a-Si / pristine {c['asi_norm']:.2f} ± {c['asi_norm_err']:.2f}"
    return text


def _num(x: float | None) -> str:
    return "  n/a" if x is None or not np.isfinite(x) else f"{x:5.2f}"


def _fmt(x: float | None, unit: str) -> str:
    if x is None or not np.isfinite(x):
        return "   n/a   "
    return f"{x:9.3e} {unit}"


def load_run_or_fail(store: Any, run_id: int | str) -> Any:
    """The store's RunInfo, or a UserError naming the database and the runs it has."""
    try:
        return store.run(run_id)
    except KeyError:
        ids = [r.id for r in store.runs()]
        have = f"runs in it: {', '.join(map(str, ids[-10:]))}" if ids else "it has no runs"
        raise UserError(f"{store.location.shown}: no run {run_id!r} ({have})") from None


def pad_positions_of(store: Any, info: Any) -> dict[str, float]:
    """Pad name -> position along the wire (um) from the device record and the station stored with the run."""
    contacts = None
    if getattr(info, "device_id", None) is not None:
        try:
            contacts = store.device(info.device_id).contacts
        except KeyError:
            contacts = None
    station = info.station if isinstance(info.station, dict) else {}
    config = station.get("config") if isinstance(station.get("config"), dict) else {}
    return pad_positions(contacts, config.get("pads"), station.get("pads"))


def _cutoffs(steps: list[Any]) -> dict[int, tuple[float, float]]:
    """Step id -> (lower, upper) voltage cut-off (V) of the steps that have them."""
    out = {}
    for s in steps:
        p = s.parameters or {}
        low, high = p.get("v_min_V"), p.get("v_max_V")
        if isinstance(low, (int, float)) or isinstance(high, (int, float)):
            out[s.id] = (float(low) if isinstance(low, (int, float)) else float("nan"),
                         float(high) if isinstance(high, (int, float)) else float("nan"))
    return out


def run_context(store: Any, info: Any) -> tuple[dict[str, Any], float | None, tuple | None]:
    """(run header dict, nominal capacity Ah or None, wire (start, end) stage coordinates um or None)."""
    device: dict[str, Any] = {}
    chip = None
    if getattr(info, "device_id", None) is not None:
        try:
            d = store.device(info.device_id)
            chip = d.chip
            device = {"chip": d.chip, "wire": d.wire, **(d.dimensions or {}), **(d.extra or {})}
        except KeyError:
            pass
    station_dev = (info.station or {}).get("device", {}) if isinstance(info.station, dict) else {}
    merged = {**station_dev, **{k: v for k, v in device.items() if v not in (None, "")}}
    chip = chip or station_dev.get("chip")
    cap = merged.get("nominal_capacity_Ah")
    pos = merged.get("wire_position_um") or {}
    wire = (pos["start"], pos["end"]) if isinstance(pos, dict) and "start" in pos and "end" in pos else None
    header = {
        "id": info.id,
        "uuid": info.uuid,
        "protocol_name": info.protocol_name,
        "status": info.status,
        "device": chip,
        "wire": merged.get("wire"),
        "started": info.started,
        "ended": info.ended,
        "operator": info.operator,
        "reason": info.reason,
        "software_version": info.software_version,
    }
    return header, (float(cap) if cap else None), wire


def geometry_of(store: Any, info: Any) -> WireGeometry | None:
    """The wire's material and size from the device record, else the device stored with the run's station."""
    station = info.station if isinstance(info.station, dict) else {}
    dev = station.get("device") if isinstance(station.get("device"), dict) else {}
    dims, materials, wire = dev.get("dimensions"), dev.get("materials"), dev.get("wire")
    if getattr(info, "device_id", None) is not None:
        try:
            d = store.device(info.device_id)
            dims, materials, wire = d.dimensions or dims, d.materials or materials, d.wire or wire
        except KeyError:
            pass
    return wire_geometry(dims if isinstance(dims, dict) else None,
                         materials if isinstance(materials, dict) else None, wire)


def steps_frame(steps: list[Any], started: dt.datetime | None,
                engine_times: dict[int, tuple[float, float]] | None = None) -> pd.DataFrame:
    """Steps as a table: ``time_s`` = engine-clock time (s since the run started, the clock of every data
    row's ``t_s``) of the step's first data (``store.step_times``; NaN for a step without timed data), and
    ``started``/``ended`` UTC. Without ``engine_times``, ``time_s`` is wall-clock seconds since the start."""
    rows = []
    for s in steps:
        if engine_times is not None:
            t = engine_times.get(s.id, (float("nan"),))[0]
        else:
            t = (s.started - started).total_seconds() if (s.started and started) else float("nan")
        rows.append(
            {
                "step_id": s.id,
                "index": s.index,
                "kind": s.kind,
                "label": s.label,
                "cycle": s.cycle,
                "status": s.status,
                "time_s": t,
                "started": s.started,
                "ended": s.ended,
            }
        )
    return pd.DataFrame(
        rows, columns=["step_id", "index", "kind", "label", "cycle", "status", "time_s", "started", "ended"]
    )


def _half_cycle(d: dict[str, Any]) -> HalfCycle:
    """A HalfCycle from its stored dict (null: NaN)."""
    return HalfCycle(**{k: (float("nan") if v is None and k not in ("step_id", "label") else v)
                        for k, v in d.items()})


def _cycling_summary(store: Any, run_id: int, steps: list[Any], params: AnalysisParams, reuse: Reuse,
                     use_cache: bool) -> dict[str, Any]:
    """The run's cycling summary (see :func:`_compute_cycling`), reused while no block was added and the steps
    and settings are the same."""
    key = params.cycling_key(store.extent("cycling", run_id), steps)
    return reuse.get_or_compute(store, run_id, KIND_CYCLING, key,
                                lambda: _compute_cycling(store, run_id, steps, params), use_cache=use_cache)


def _compute_cycling(store: Any, run_id: int, steps: list[Any], params: AnalysisParams) -> dict[str, Any]:
    """Half-cycles (attempts merged), dQ/dV, net charge per step and the points thinned for plots, reading the
    points step by step (a week-long run never sits in memory as one table). JSON-able."""
    cutoffs = _cutoffs(steps)
    groups = attempt_groups(steps)
    members: dict[int, int] = {}
    for g in groups.values():
        members[g] = members.get(g, 0) + 1
    per_step = max(MIN_PLOT_POINTS_PER_STEP, MAX_PLOT_POINTS // max(1, len(steps)))
    quiet = correlation.QUIET_KINDS + correlation.PROBE_KINDS
    hcs: list[HalfCycle] = []
    charge_of: dict[str, float] = {}
    stash: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # dQ/dV inputs of attempts of resumed steps
    single: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # dQ/dV of the other steps
    plots: list[pd.DataFrame] = []
    n_total = 0
    for s in steps:
        data = store.cycling(run_id, step_id=s.id)
        if len(data) == 0:
            continue
        active = s.kind not in quiet
        sp = step_points(data.t, data.E, data.I, data.Q, step_id=s.id, active=active, cycle=s.cycle or 0,
                         label=s.label, charge_sign=params.charge_sign, cutoffs=cutoffs.get(s.id),
                         max_plot_points=per_step)
        n_total += sp.n_points
        plots.append(pd.DataFrame({"step_id": np.full(len(sp.plot["t_s"]), s.id, dtype=np.int64), **sp.plot}))
        if not active:
            continue
        assert sp.half_cycle is not None
        hcs.append(sp.half_cycle)
        charge_of[str(s.id)] = sp.charge_C
        if members.get(groups.get(s.id, s.id), 1) > 1:
            stash[s.id] = (sp.dqdv_voltage, sp.dqdv_charge)
        else:
            single[s.id] = dqdv_of_attempts([(sp.dqdv_voltage, sp.dqdv_charge)], bin_V=params.dqdv_bin_V)
    merged = merge_attempts(number_unnumbered(hcs), groups)
    frames = []
    for h in merged:
        if h.step_id is None:
            continue
        attempts = [s for s, g in groups.items() if g == h.step_id] or [h.step_id]
        if len(attempts) == 1 and attempts[0] in single:
            v, g = single[attempts[0]]
        else:
            v, g = dqdv_of_attempts([stash[a] for a in attempts if a in stash], bin_V=params.dqdv_bin_V)
        if v.size:
            frames.append(pd.DataFrame({"cycle": h.cycle, "direction": h.direction, "step_id": h.step_id,
                                        "voltage_V": v, "dqdv_C_per_V": g}))
    columns = ["cycle", "direction", "step_id", "voltage_V", "dqdv_C_per_V"]
    dqdv = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
    plot_columns = ["step_id", "t_s", "voltage_V", "current_A", "charge_C", "charge_curve_C"]
    points = pd.concat(plots, ignore_index=True) if plots else pd.DataFrame(
        {c: np.empty(0, dtype=np.int64 if c == "step_id" else float) for c in plot_columns})
    return {
        "half_cycles": jsonable([h.as_dict() for h in merged]),
        "dqdv": pack_frame(dqdv),
        "charge_of": charge_of,
        "points": pack_frame(points),
        "n_points": n_total,
    }


def _iv_frame(store: Any, run_id: int, steps: pd.DataFrame) -> pd.DataFrame:
    data = store.iv(run_id)
    frame = pd.DataFrame(
        {
            "id": data.id,
            "step_id": data.step_id,
            "voltage_V": data.V,
            "current_A": data.I,
            "direction": data.direction,
            "pair": data.pair,
            "t_s": data.t,
        }
    )
    return frame.merge(steps[["step_id", "label", "cycle"]], on="step_id", how="left")


def spectrometer_noise(station: Any, accumulations: int = 1) -> NoiseModel | None:
    """The spectrometer's noise model from the run's station snapshot, where its driver reported one (settings
    ``read_noise_counts`` per accumulation and ``gain_counts_per_electron``, default 1); None otherwise (the
    fits then estimate it from the map's data)."""
    instruments = (station or {}).get("instruments", {}) if isinstance(station, dict) else {}
    for inst in instruments.values():
        if not isinstance(inst, dict) or "spectrometer" not in (inst.get("roles") or []):
            continue
        settings = inst.get("settings") or {}
        read = settings.get("read_noise_counts")
        if isinstance(read, (int, float)) and not isinstance(read, bool) and read >= 0:
            gain = settings.get("gain_counts_per_electron", 1.0)
            gain = float(gain) if isinstance(gain, (int, float)) and gain > 0 else 1.0
            return NoiseModel(gain, float(read) * np.sqrt(max(int(accumulations), 1)), "spectrometer")
    return None


def _frames(pixel: np.ndarray) -> list[np.ndarray] | None:
    """Row indices of each pixel's frames, when a map stored k >= 2 spectra per pixel (``frames``); None for
    one spectrum per pixel. A pixel with more frames than the others (a repeat) keeps its first k."""
    if pixel.size == 0 or (pixel < 0).any():
        return None
    uniq, counts = np.unique(pixel, return_counts=True)
    k = int(counts.min())
    if k < 2:
        return None
    return [np.nonzero(pixel == p)[0][:k] for p in uniq]


def fit_map_step(store: Any, run_id: int, step_id: int, params: AnalysisParams,
                 noise: NoiseModel | None = None) -> dict[str, Any]:
    """The pixel fits of one map step as stored (a packed frame): its spectra read from the store, those that
    share a pixel taken as frames of it (compared for cosmic rays and summed)."""
    spectra = store.spectra(run_id, step_id=step_id)
    groups = _frames(spectra.pixel)
    first = np.arange(len(spectra)) if groups is None else np.array([g[0] for g in groups])
    counts = spectra.counts if groups is None else np.stack([spectra.counts[g] for g in groups])
    positions = np.column_stack([spectra.x_um[first], spectra.y_um[first]])
    fitted = fit_map(
        spectra.axis,
        counts,
        positions,
        y=params.y,
        window=params.fit_window_cm1,
        spike_threshold=params.spike_threshold,
        baseline=params.baseline,
        noise=noise,
    )
    fitted["spectrum_id"] = spectra.id[first]
    fitted["grid_pixel"] = spectra.pixel[first]
    return pack_frame(fitted)


def _map_pixels(
    store: Any, run_id: int, step_id: int, params: AnalysisParams, *, use_cache: bool,
    noise: NoiseModel | None = None, reuse: Reuse | None = None, pool: map_pool.MapPool | None = None,
) -> tuple[pd.DataFrame | None, bool]:
    """Pixel fits of one map step (cached), with Xc for ``params.y``; (None, False) if it has no spectra.

    Spectra that share a pixel are frames of it: compared for cosmic rays and summed (``frames`` of the map).
    The cache is looked up before any spectrum is read (the key holds the count and last id of the step's
    spectra, read from the index). With a ``pool``, a map its worker has fitted is taken from it.
    """
    reuse = reuse if reuse is not None else Reuse()
    n, last_id = store.extent("spectra", run_id, step_id)
    if n == 0:
        return None, False
    key = params.map_fit_key(step_id, n, last_id)

    def fit() -> dict[str, Any]:
        def here() -> dict[str, Any]:
            return fit_map_step(store, run_id, step_id, params, noise)

        value = here() if pool is None else pool.value(step_id, here)
        reuse.computed["spectra_fitted"] += int(value["n"])
        return value

    before = reuse.computed[KIND_MAP_FIT]
    pixels = unpack_frame(reuse.get_or_compute(store, run_id, KIND_MAP_FIT, key, fit, use_cache=use_cache))
    refitted = reuse.computed[KIND_MAP_FIT] > before
    pixels["y"] = params.y
    areas = (
        pixels["c_area"].to_numpy(float),
        pixels["a_area"].to_numpy(float),
        params.y,
        pixels["c_area_err"].to_numpy(float),
        pixels["a_area_err"].to_numpy(float),
    )
    pixels["xc"] = crystalline_fraction(*areas)
    pixels["xc_upper"] = xc_upper_limit(*areas)
    return pixels, refitted


IV_WORKER_MIN_SWEEPS = 400
"""Fewest sweeps to fit for which the I-V fits run in a child process (:class:`IVWorker`), alongside the
cycling and Raman analysis (its start-up, ~2-3 s of imports, would cost more than it saves below)."""


def _start_iv_table(store: Any, run_id: int, ivp: pd.DataFrame, params: AnalysisParams, reuse: Reuse,
                    use_cache: bool, *, worker: bool = True) -> Callable[[], pd.DataFrame]:
    """Metrics of every sweep (:func:`~nanocell_daq.analysis.iv.iv_table` per step and pair), each I-V step's
    rows reused from the store while its points and the G0 settings are the same; the steps not stored are
    fitted together (one batch of all their sweeps) and stored one row set per step.

    In two halves: the stored steps are looked up now and the others' fits started
    (in a worker process when there are at least :data:`IV_WORKER_MIN_SWEEPS` sweeps, ``worker`` is set and
    the machine has two cores); the returned function waits for them, stores them and gives the table."""
    kwargs = {"g0_window_V": params.g0_window_V, "high_bias_fraction": params.high_bias_fraction}
    if ivp.empty:
        return lambda: iv_table(ivp, ("step_id", "pair"), **kwargs)
    segs = [seg for _, seg in ivp.groupby("step_id", sort=False)]
    keys = [params.iv_fit_key(int(seg["step_id"].iloc[0]), len(seg), int(seg["id"].max())) for seg in segs]
    packed = reuse.lookup_many(store, run_id, KIND_IV_FIT, keys, use_cache=use_cache)
    missing = [k for k, value in enumerate(packed) if value is None]
    points = pd.concat([segs[k] for k in missing]) if missing else None
    n_sweeps = 0 if points is None else int(points.groupby(["step_id", "pair"], sort=False).ngroups)
    t0 = time.perf_counter()
    job = None
    if worker and n_sweeps >= IV_WORKER_MIN_SWEEPS and (os.cpu_count() or 1) >= 2:
        job = IVWorker(points, ("step_id", "pair"), kwargs)

    def finish() -> pd.DataFrame:
        if missing:
            table = job.result() if job is not None else None
            if job is not None:
                reuse.iv_worker_cpu_s += job.cpu_s
                reuse.worker_peak_rss_mb = max(reuse.worker_peak_rss_mb, job.peak_rss_mb)
            if table is None:
                table = iv_table(points, ("step_id", "pair"), **kwargs)
            reuse.computed["iv_sweeps_fitted"] += len(table)
            by_step = dict(iter(table.groupby("step_id", sort=False)))
            fresh = [pack_frame(by_step[segs[k]["step_id"].iloc[0]].reset_index(drop=True)) for k in missing]
            reuse.put_many(store, run_id, KIND_IV_FIT, [keys[k] for k in missing], fresh,
                           time.perf_counter() - t0)
            for k, value in zip(missing, fresh, strict=True):
                packed[k] = value
        return pd.concat([unpack_frame(p) for p in packed], ignore_index=True)

    return finish


def axis_offsets(store: Any, run_id: int, steps: list[Any]) -> dict[int, float]:
    """Map step id -> Raman axis offset (cm-1) from the last ``raman_reference`` step before it (NaN: none,
    or no c-Si peak in it). Add it to the measured band positions."""
    out: dict[int, float] = {}
    current = float("nan")
    for s in sorted(steps, key=lambda s: s.index):
        if s.kind == "raman_reference":
            ref = store.spectra(run_id, step_id=s.id)
            if len(ref):
                offset = reference_offset(ref.axis, ref.counts)[0]
                current = offset if np.isfinite(offset) else current
        elif s.kind == "raman_map":
            out[s.id] = current
    return out


def analyze_run(
    store: Any,
    run_id: int | str,
    y: float = 0.8,
    *,
    params: AnalysisParams | None = None,
    use_cache: bool = True,
    save: bool = True,
    map_workers: int | None = None,
) -> RunAnalysis:
    """Compute every metric of a run from the store, store the results back, return a :class:`RunAnalysis`.

    ``y`` is the a-Si/c-Si cross-section ratio (ignored if ``params`` is given). ``use_cache=False`` refits
    the Raman maps; ``save=False`` leaves the store untouched (apart from the map-fit cache when refitting).
    ``map_workers``: 1 fits the maps in a worker process too (while this one computes the cycling and I-V),
    0 only here, None (default) a worker when there are at least :data:`PARALLEL_MIN_SPECTRA` spectra to fit
    and two cores. ``result.reuse.part_s`` / ``part_cpu_s`` say where the time went ("cycling", "iv",
    "raman", "rest", "total"; the CPU of "raman" includes the worker's).
    """
    t0, c0 = time.perf_counter(), time.process_time()
    params = params or AnalysisParams(y=y)
    info = load_run_or_fail(store, run_id)
    rid = int(info.id)
    header, capacity_ah, wire = run_context(store, info)
    steps = store.steps(rid)
    result = RunAnalysis(run_id=rid, run=header, params=params, nominal_capacity_Ah=capacity_ah, wire=wire)
    result.geometry = geometry_of(store, info)
    if not steps:
        raise UserError(f"run {rid} ({info.status}) has no steps yet: nothing to analyse")
    if info.status == "running":
        result.warnings.append(f"run {rid} is still running: this analysis covers the data recorded so far")
    result_key = _result_key(store, info, steps, params)
    stored = store.get_derived(rid, KIND_RESULT, result_key) if use_cache else None
    stored = decode(stored) if stored is not None else None
    # each step's first data time: stored with the whole result (the same rows), else from the data (a week:
    # an aggregate over every cycling block, over a second)
    first = stored.pop("step_time_s", None) if stored is not None else None
    times = {int(k): (v,) for k, v in first.items()} if first is not None else store.step_times(rid)
    result.steps = steps_frame(steps, info.started, times)
    if stored is not None:  # nothing the analysis reads has changed since it was stored
        for name, value in stored.items():
            setattr(result, name, value)
        result.reuse.reused[KIND_RESULT] += 1
        _total_time(result.reuse, t0, c0)
        return result

    pool = _map_pool(store, info, rid, steps, params, result.reuse, use_cache, map_workers)
    try:
        return _compute(store, info, steps, params, result, result_key, use_cache, save, pool)
    finally:
        worker_cpu = 0.0
        if pool is not None:
            pool.close()
            worker_cpu = pool.worker_cpu_s
            result.reuse.worker_peak_rss_mb = max(result.reuse.worker_peak_rss_mb, pool.worker_peak_rss_mb)
            result.reuse.computed["maps_fitted_by_worker"] += pool.from_worker
        _total_time(result.reuse, t0, c0, worker_cpu)


def _total_time(reuse: Reuse, t0: float, c0: float, worker_cpu: float = 0.0) -> None:
    """The analysis' total wall and CPU time and "rest", what the named parts do not cover; the CPU time of a
    map worker counts in "raman" and "total", that of the I-V child process in "iv" and "total"."""
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    named = ("cycling", "iv", "raman")
    reuse.part_s["rest"] = max(wall - sum(reuse.part_s[k] for k in named), 0.0)
    reuse.part_cpu_s["rest"] = max(cpu - sum(reuse.part_cpu_s[k] for k in named), 0.0)
    if worker_cpu:
        reuse.part_cpu_s["raman"] += worker_cpu
    if reuse.iv_worker_cpu_s:
        reuse.part_cpu_s["iv"] += reuse.iv_worker_cpu_s
    reuse.part_s["total"], reuse.part_cpu_s["total"] = wall, cpu + worker_cpu + reuse.iv_worker_cpu_s


def _map_noise(info: Any, step: Any) -> NoiseModel | None:
    accumulations = (step.parameters or {}).get("accumulations", 1)
    return spectrometer_noise(info.station, accumulations if isinstance(accumulations, int) else 1)


def _map_pool(store: Any, info: Any, rid: int, steps: list[Any], params: AnalysisParams, reuse: Reuse,
              use_cache: bool, workers: int | None) -> map_pool.MapPool | None:
    """A worker process fitting the maps not in the store's derived results (see ``map_workers`` of
    :func:`analyze_run`), or None."""
    if workers == 0 or not map_pool.usable(store):
        return None
    jobs, n_spectra = [], 0
    for s in steps:
        if s.kind != "raman_map":
            continue
        n, last_id = store.extent("spectra", rid, s.id)
        key = params.map_fit_key(s.id, n, last_id)
        if n == 0 or (use_cache and reuse.stored(store, rid, KIND_MAP_FIT, key) is not None):
            continue
        jobs.append((s.id, (params, _map_noise(info, s))))
        n_spectra += n
    if not jobs or (workers is None and (n_spectra < PARALLEL_MIN_SPECTRA or (os.cpu_count() or 1) < 2)):
        return None
    return map_pool.MapPool(store, rid, fit_map_step, jobs)


def _maps(store: Any, info: Any, steps: list[Any], params: AnalysisParams, result: RunAnalysis,
          use_cache: bool, pool: map_pool.MapPool | None) -> None:
    """Pixel fits, summaries and profiles of every map step into ``result``."""
    rid, wire, reuse = result.run_id, result.wire, result.reuse
    offsets = axis_offsets(store, rid, steps)
    for s in steps:
        if s.kind != "raman_map":
            continue
        pixels, refitted = _map_pixels(store, rid, s.id, params, use_cache=use_cache,
                                       noise=_map_noise(info, s), reuse=reuse, pool=pool)
        if pixels is None:
            continue
        offset = offsets.get(s.id, float("nan"))
        if np.isfinite(offset):  # positions on the Si-calibrated axis
            pixels["c_position"] = pixels["c_position"] + offset
            pixels["a_position"] = pixels["a_position"] + offset
        result.maps_refitted += int(refitted)
        result.maps[s.id] = pixels
        result.map_summaries[s.id] = {**map_summary(pixels, params.y), "axis_offset_cm1": offset}
        start, end = wire if wire else (None, None)
        result.profiles[s.id] = profile_along_wire(pixels, "xc", start=start, end=end)


def _compute(store: Any, info: Any, steps: list[Any], params: AnalysisParams, result: RunAnalysis,
             result_key: dict[str, Any], use_cache: bool, save: bool,
             pool: map_pool.MapPool | None) -> RunAnalysis:
    """The analysis of :func:`analyze_run` once no stored whole result applies."""
    rid = result.run_id
    capacity_ah, reuse = result.nominal_capacity_Ah, result.reuse
    with reuse.part("iv"):  # the I-V fits start first: in a child process they run alongside the rest
        ivp = _iv_frame(store, rid, result.steps)
        iv_done = _start_iv_table(store, rid, ivp, params, reuse, use_cache)
    with reuse.part("cycling"):
        cycling = _cycling_summary(store, rid, steps, params, reuse, use_cache)
    map_like = [s.id for s in steps if s.kind in ("raman_map", "raman_reference")]
    if cycling["n_points"] == 0 and ivp.empty and not any(store.extent("spectra", rid, k)[0]
                                                          for k in map_like):
        raise UserError(
            f"run {rid} ({info.status}) has {len(steps)} step(s) but no data points yet: nothing to analyse"
        )
    meta = result.steps[["step_id", "kind", "label", "cycle"]]
    result.cycling_points = unpack_frame(cycling["points"]).merge(meta, on="step_id", how="left")
    result.n_cycling_points = int(cycling["n_points"])
    result.iv_points = ivp

    # Cycling: each non-quiet step with points is a half-cycle (rests log V(t) at I = 0); the attempts of an
    # interrupted and resumed step are one half-cycle.
    hcs = [_half_cycle(d) for d in cycling["half_cycles"]]
    if hcs:
        result.half_cycles = [h.as_dict() for h in hcs]
        result.half_cycle_table = half_cycle_table(hcs)
        result.cycle_table = cycle_table(hcs)
        result.dqdv = unpack_frame(cycling["dqdv"])
    charge_of: dict[int, float] = {int(k): float(v) for k, v in cycling["charge_of"].items()}
    events = store.events(rid)
    for s in steps:  # charge a step passed without data after its engine died: counted, and said
        gap = unrecorded_charge_C(events, s.id)
        if gap > 0:
            current = (s.parameters or {}).get("current_A")
            current = float(current) if isinstance(current, (int, float)) else 0.0
            sign = np.sign(charge_of.get(s.id, 0.0)) or params.charge_sign * np.sign(current)
            charge_of[s.id] = charge_of.get(s.id, 0.0) + float(sign) * gap
            result.warnings.append(
                f"step {s.index} '{s.label}': up to {gap:.4g} C passed without data after its engine died; "
                f"counted as passed in the state of charge"
            )
    redone = superseded([s for s in steps if s.kind in correlation.PROBE_KINDS])
    for s in steps:
        if s.id in redone:
            result.warnings.append(
                f"step {s.index} '{s.label}' ({s.status}) was redone: the analysis uses its completed repeat"
            )

    with reuse.part("raman"):
        _maps(store, info, steps, params, result, use_cache, pool)
    with reuse.part("iv"):
        result.iv_table = iv_done()  # the I-V fits ran alongside the cycling and the maps
    if "g0_converged" in result.iv_table.columns:  # a G0 that is where the solver stopped, not a minimum
        label_of = {s.id: s.label for s in steps}
        for r in result.iv_table[result.iv_table["g0_converged"] == False].itertuples():  # noqa: E712
            result.warnings.append(f"I-V '{label_of.get(r.step_id)}' {getattr(r, 'pair', '')}: {r.g0_note}")

    rows = [
        correlation.StepRow(
            id=int(r.step_id),
            index=int(r.index),
            kind=str(r.kind),
            label=None if pd.isna(r.label) else str(r.label),
            cycle=None if pd.isna(r.cycle) else int(r.cycle),
            time_s=float(r.time_s),
            status=str(r.status),
        )
        for r in result.steps.itertuples()
        if int(r.step_id) not in redone
    ]
    cap_c = capacity_ah * 3600.0 if capacity_ah else None
    result.timeline = correlation.timeline(rows, result.iv_table, result.map_summaries, charge_of, cap_c)
    result.checkpoints = [
        c.as_dict()
        for c in correlation.checkpoints(rows, result.iv_table, result.map_summaries, charge_of, cap_c)
    ]
    _state_of_charge(result, rows, charge_of, cap_c)
    normalised_intensities(result.checkpoints, result.maps)  # c-Si / a-Si areas relative to pristine
    _segments(result, pad_positions_of(store, info))
    merged_hcs = [HalfCycle(**h) for h in result.half_cycles]
    result.notes += overshoots(merged_hcs)
    result.notes += coulombic_flags(result.cycle_table, merged_hcs)
    if save:
        store.put_derived(rid, KIND_SUMMARY, params.key(), _summary_value(result))
        first = {int(r.step_id): float(r.time_s) for r in result.steps.itertuples()}
        whole = encode({**{k: getattr(result, k) for k in _RESULT_FIELDS}, "step_time_s": first})
        store.clear_derived(rid, KIND_RESULT)  # one whole result per run, the latest (a running run's grow)
        store.put_derived(rid, KIND_RESULT, result_key, whole)
    return result


_RESULT_FIELDS = ("checkpoints", "half_cycles", "cycle_table", "half_cycle_table", "dqdv", "iv_table",
                  "timeline", "maps", "map_summaries", "profiles", "cycling_points", "iv_points",
                  "soc_definition", "segments", "notes", "warnings", "n_cycling_points")
"""What the stored whole result holds (the rest of a RunAnalysis comes from the run's records each time)."""


def _result_key(store: Any, info: Any, steps: list[Any], params: AnalysisParams) -> dict[str, Any]:
    """Key of a whole stored result: a hash of everything the analysis reads (the run and device records,
    every step, how many rows of each kind and the last row id, index-only), the parameters and versions."""
    device = None
    if getattr(info, "device_id", None) is not None:
        try:
            device = asdict(store.device(info.device_id))
        except KeyError:
            device = None
    inputs = {
        "run": asdict(info),
        "device": device,
        "steps": [asdict(s) for s in steps],
        "data": [store.extent(kind, info.id) for kind in ("cycling", "iv", "spectra", "events")],
        "plot_points": [MAX_PLOT_POINTS, MIN_PLOT_POINTS_PER_STEP],
        "software": __version__,
    }
    return {**params.key(), "inputs": params_hash(inputs)}


def _state_of_charge(result: RunAnalysis, rows: list[correlation.StepRow], charge_of: dict[int, float],
                     cap_c: float | None) -> None:
    """SOC of each checkpoint and time-line row against the measured capacity (see
    :func:`~nanocell_daq.analysis.cycling.soc_before_steps`); the nominal capacity when none was measured."""
    order = [r.id for r in sorted(rows, key=lambda r: r.index)]
    soc, text = soc_before_steps(order, charge_of, [HalfCycle(**h) for h in result.half_cycles], cap_c)
    if not soc:
        result.soc_definition = ("SOC = net charge passed / nominal capacity of the device" if cap_c else
                                 "SOC: no capacity measured and no nominal capacity: not defined")
        return
    result.soc_definition = text
    for c in result.checkpoints:
        c["soc"] = soc.get(c["step_ids"][0], float("nan")) if c["step_ids"] else float("nan")
    if not result.timeline.empty:
        result.timeline["soc"] = result.timeline["step_id"].map(lambda sid: soc.get(int(sid), float("nan")))


def _segments(result: RunAnalysis, positions: dict[str, float]) -> None:
    """Conductance per segment of each I-V step and the contact/wire split of the checkpoint's I-V."""
    if result.iv_table.empty or "pair" not in result.iv_table.columns:
        return
    # one table for every step at once (rows are independent), the steps in their order of appearance
    order = np.argsort(result.iv_table.groupby("step_id", sort=False).ngroup().to_numpy(), kind="stable")
    rows = result.iv_table.iloc[order]
    result.segments = segment_table(rows, positions).assign(step_id=rows["step_id"].to_numpy(np.int64))
    for c in result.checkpoints:
        if c.get("iv_step_id") is None or len(c.get("per_pair") or {}) < 2:
            continue
        seg = result.segments[result.segments["step_id"] == c["iv_step_id"]]
        split = contact_split(seg)
        c["contact_split"] = {**split.as_dict(), "text": split.text()}
        for _, r in seg.iterrows():
            pair = c["per_pair"].get(str(r["pair"]))
            if pair is not None:
                pair["length_um"] = float(r["length_um"])


def _summary_value(result: RunAnalysis) -> dict[str, Any]:
    """What is stored for other readers (GUI, notebooks): every table but the raw points and pixel fits."""
    return jsonable(
        {
            "run_status": result.run.get("status"),
            "warnings": result.warnings,
            "notes": result.notes,
            "soc_definition": result.soc_definition,
            "checkpoints": result.checkpoints,
            "segments": frame_to_json(result.segments),
            "half_cycles": result.half_cycles,
            "cycle_table": frame_to_json(result.cycle_table),
            "iv_table": frame_to_json(result.iv_table),
            "timeline": frame_to_json(result.timeline),
            "map_summaries": {str(k): v for k, v in result.map_summaries.items()},
        }
    )
