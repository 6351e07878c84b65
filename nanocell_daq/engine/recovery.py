"""What an instrument did on its own after the engine died: store it, or record that it is missing.

A MethodSCRIPT potentiostat keeps running the technique a killed engine started (device-side cut-offs stop
it). When a later process connects (the supervisor, or ``nanocell resume``), the driver aborts that technique
and keeps the data packages it drained (``orphan_samples``, t on the technique's own timer).
:func:`record_recovered` stores them as cycling points of the run's interrupted step, on the run's time axis
(the step logged where the device timer started, :data:`procedures.electrochem.TECHNIQUE_STARTED`), with the
charge continuing the step's own. When nothing came back, the gap from the last stored sample to the
takeover is recorded as an event carrying an upper bound of the charge passed in it
(:data:`GAP_TAG`), which resume and the analysis count (see :func:`unrecorded_charge_C`).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from nanocell_daq.storage import attempts
from nanocell_daq.storage.attempts import GAP_TAG
from procedures.electrochem import TECHNIQUE_STARTED

ELECTROCHEM_KINDS = ("galvanostatic", "rest", "hold", "cv")
"""Step kinds that run a technique on the potentiostat."""

MARK = "recovery: "
"""Prefix of the events this module writes: a step that has one was dealt with (resume after the
supervisor, or a second resume, adds nothing)."""

_STARTED = re.compile(re.escape(TECHNIQUE_STARTED) + r"(\S+) s")


def _instruments(instruments: Any) -> dict[str, Any]:
    """name -> driver, from a mapping, a Station (``.instruments``) or an OpenStation (``.station``)."""
    if isinstance(instruments, Mapping):
        return dict(instruments)
    station = getattr(instruments, "station", None)
    found = getattr(station, "instruments", None) if station is not None else None
    if found is None:
        found = getattr(instruments, "instruments", None)
    return dict(found or {})


def _technique_t0(store: Any, run_id: int, step_id: int) -> float | None:
    """Run time (s) at which the step's last technique started its device timer, if it was logged."""
    t0 = None
    for event in store.events(run_id):
        if event.step_id == step_id and (m := _STARTED.match(event.message)):
            try:
                t0 = float(m.group(1))
            except ValueError:
                continue
    return t0


def _open_step(store: Any, run_id: int) -> Any | None:
    """The run's last electrochemical step that did not complete (the one whose technique ran on)."""
    steps = [s for s in store.steps(run_id) if s.kind in ELECTROCHEM_KINDS]
    if not steps:
        return None
    last = max(steps, key=lambda s: s.index)
    return last if last.status in ("running", "interrupted") else None


def unrecorded_charge_C(store: Any, run_id: int, step_id: int) -> float:
    """Upper bound (C, absolute) of the charge step ``step_id`` passed without data (from its gap events)."""
    return attempts.unrecorded_charge_C(store.events(run_id), step_id)


def record_recovered(store: Any, run_id: int, instruments: Any) -> list[str]:
    """Store what the instruments recovered from a technique the dead engine left running; return the
    messages logged (also stored as events). Idempotent: the drivers' recovered samples are consumed."""
    messages: list[str] = []
    found = [(name, inst) for name, inst in _instruments(instruments).items()
             if getattr(inst, "orphan_aborted", None) or getattr(inst, "orphan_samples", None)]
    step = _open_step(store, run_id)
    if step is None:
        for name, inst in found:
            samples = getattr(inst, "orphan_samples", None)
            if samples:
                msg = (f"{name}: {len(samples)} sample(s) from the device after the engine died, but the run "
                       f"has no interrupted electrochemical step to put them in: not stored")
                store.log_event(run_id, "warning", msg)
                messages.append(msg)
                samples.clear()
        return messages
    data = store.cycling(run_id, step_id=step.id)
    last_t = float(data.t[-1]) if len(data.t) else None
    last_q = float(data.Q[-1]) if len(data.Q) else 0.0
    t0 = _technique_t0(store, run_id, step.id)
    samples = []
    for _name, inst in found:
        got = getattr(inst, "orphan_samples", None)
        if got:
            samples.extend(got)
            got.clear()
    samples = sorted((s for s in samples if math.isfinite(s.t)), key=lambda s: s.t)
    label = MARK + (step.label or f"step {step.index}")
    if any(e.step_id == step.id and e.message.startswith(MARK) for e in store.events(run_id)) and not samples:
        return messages
    if samples:
        messages.append(_store_samples(store, run_id, step, label, samples, t0, last_t, last_q))
    elif step.kind == "galvanostatic" and store.run(run_id).status in ("running", "interrupted"):
        # (a run that ended failed or aborted stopped its technique itself: no gap)
        message = _record_gap(store, run_id, step, label, last_t, found)
        if message:
            messages.append(message)
    return messages


def _store_samples(store: Any, run_id: int, step: Any, label: str, samples: list[Any],
                   t0: float | None, last_t: float | None, last_q: float) -> str:
    d = np.array([s.t for s in samples], dtype=float)
    if t0 is None:  # no record of the device timer's start: the recovered samples follow the stored ones
        spacing = float(np.median(np.diff(d))) if len(d) > 1 else 0.0
        t0 = (last_t if last_t is not None else 0.0) + spacing - d[0]
        placed = "after the last stored sample (the technique's start was not logged)"
    else:
        placed = "on the device timer"
    t = t0 + d
    keep = t > last_t if last_t is not None else np.ones(len(t), dtype=bool)
    t = t[keep]
    E = np.array([s.potential for s in samples], dtype=float)[keep]
    current = np.array([s.current for s in samples], dtype=float)[keep]
    if not len(t):
        msg = (f"{label}: the device's {len(samples)} recovered sample(s) were already stored; "
               f"nothing added")
        store.log_event(run_id, "info", msg, step.id)
        return msg
    # The step's own bookkeeping: Q += I x (time since the previous sample); the first recovered sample
    # also covers the samples the dead engine read but never committed (the current is the device's).
    prev = np.concatenate([[last_t if last_t is not None else t0], t[:-1]])
    Q = last_q + np.cumsum(current * np.maximum(t - prev, 0.0))
    with store.writer() as writer:
        for k in range(len(t)):
            writer.cycling_point(step.id, float(t[k]), float(E[k]), float(current[k]), float(Q[k]))
    hole = float(t[0] - last_t) if last_t is not None else 0.0
    msg = (f"{label}: recovered {len(t)} sample(s) the potentiostat measured after the engine died "
           f"(t = {t[0]:.6g}..{t[-1]:.6g} s, placed {placed}); charge recovered "
           f"{Q[-1] - last_q:.6g} C ({(Q[-1] - last_q) / 3600:.6g} Ah); step charge now {Q[-1]:.6g} C")
    if last_t is not None:
        msg += f"; {hole:.6g} s between the last stored and the first recovered sample"
    store.log_event(run_id, "warning", msg, step.id)
    return msg


def _record_gap(store: Any, run_id: int, step: Any, label: str, last_t: float | None,
                found: list[tuple[str, Any]]) -> str | None:
    """Nothing came back from the device: the charge after the last stored sample is unknown. Its upper
    bound (the step's current for the engine time since the engine fell silent, capped by what was left of
    the step) is recorded, and counted as passed by resume and the analysis (never an overcharge)."""
    params = step.parameters or {}
    current = abs(_number(params.get("current_A"), 0.0))
    if not current > 0:
        return None
    info = store.run(run_id)
    config = (info.station or {}).get("config") if isinstance(info.station, dict) else None
    config = config if isinstance(config, dict) else {}
    speed = _number((config.get("simulation") or {}).get("speed"), 1.0) if isinstance(
        config.get("simulation"), dict) else 1.0
    progress = store.progress(run_id)
    silent_since = progress.updated if progress is not None else info.started
    silent_s = max((dt.datetime.now(dt.UTC) - _utc(silent_since)).total_seconds(), 0.0) * speed
    data = store.cycling(run_id, step_id=step.id)
    q_stored = abs(float(data.Q[-1])) if len(data.Q) else 0.0
    spent_s = float(data.t[-1] - data.t[0]) if len(data.t) else 0.0
    bounds = [silent_s * current]
    nominal = _number((config.get("device") or {}).get("nominal_capacity_Ah"), 0.0) if isinstance(
        config.get("device"), dict) else 0.0
    limits = [_number(params.get("capacity_Ah"), 0.0) * 3600.0,
              _number(params.get("capacity_fraction"), 0.0) * nominal * 3600.0]
    limits = [q for q in limits if q > 0]
    if limits:
        bounds.append(max(min(limits) - q_stored, 0.0))
    max_time = _number(params.get("max_time_s"), 0.0)
    if max_time > 0:
        bounds.append(max(max_time - spent_s, 0.0) * current)
    bound = min(bounds)
    device = ", ".join(name for name, _ in found) or "no instrument"
    where = f"after t = {last_t:.6g} s" if last_t is not None else "from its start"
    msg = (f"{label}: no data from the potentiostat {where} until the takeover ({device} reported a "
           f"technique but no sample)" if found else
           f"{label}: no data from the potentiostat {where} until the takeover (nothing buffered on the "
           f"device)")
    msg += f"; state of charge uncertain by up to {bound / 3600:.6g} Ah; {GAP_TAG}{bound!r} C"
    store.log_event(run_id, "warning", msg, step.id)
    return msg


def _number(value: Any, default: float) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return default
    return x if math.isfinite(x) else default


def _utc(when: dt.datetime) -> dt.datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)
