"""Recovery files: rows a store writer could not commit, kept on disk until ``nanocell resume`` takes them.

When a flush fails (database locked beyond the busy timeout, disk full, file size limit), the writer appends
every row it holds to ``<db>.recovery-<pid>.jsonl`` next to an SQLite database (a database given by URL, or
a directory that refuses the file: the system's temporary directory, same name). Format: JSON lines, UTF-8.

- line 1, the header: ``{"format": "nanocell-recovery", "version": 1, "db": "<database shown>",
  "error": "<why the flush failed>"}``; later headers may follow (a second spill of the same writer), and a
  line ``{"end": {"run_id": N, "status": "failed", "reason": "..."}}`` records how the engine ended when it
  could not write that to the store;
- one line per row: ``{"cycling": [step_id, t_s, E_V, I_A, Q_C]}``, ``{"iv": [step_id, V, I, direction,
  pair, t_s]}``, ``{"spectrum": [step_id, x_um, y_um, z_um, exposure_s, counts_base64_float32le, axis_id,
  grid_id, pixel, t_s]}``, ``{"event": [run_id, step_id, iso_time, level, message]}``. Non-finite numbers
  are written as ``NaN``/``Infinity`` (Python's JSON).

:func:`ingest_spill` commits the rows of every recovery file of a database that concern a run (skipping any
already stored, so it is idempotent) and deletes the file.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = "nanocell-recovery"
VERSION = 1
KINDS = ("cycling", "iv", "spectrum", "event")


def _base(location: Any) -> Path:
    """The path recovery file names start from: the SQLite file, else a name in the temporary directory."""
    if location.path is not None:
        return Path(location.path)
    safe = "".join(c if c.isalnum() else "_" for c in str(location.shown))[:80]
    return Path(tempfile.gettempdir()) / f"nanocell-{safe}"


def candidates(location: Any) -> list[Path]:
    """Directories+stems to try, in order: next to the database, then the temporary directory."""
    base = _base(location)
    spare = Path(tempfile.gettempdir()) / base.name
    return [base] if spare == base else [base, spare]


def spill_rows(location: Any, name: str, error: str, rows: dict[str, list[tuple[Any, ...]]],
               end: dict[str, Any] | None = None) -> Path:
    """Append ``rows`` (kind -> tuples as the writer queues them) to the recovery file ``name``; returns its
    path. Tries next to the database first, then the temporary directory; OSError if both refuse."""
    lines = [json.dumps({"format": FORMAT, "version": VERSION, "db": str(location.shown), "error": error})]
    for kind in KINDS:
        for row in rows.get(kind, ()):
            lines.append(json.dumps({kind: _jsonable(kind, row)}))
    if end is not None:
        lines.append(json.dumps({"end": end}))
    text = "\n".join(lines) + "\n"
    last: OSError | None = None
    for base in candidates(location):
        path = base.with_name(f"{base.name}.recovery-{name}.jsonl")
        try:
            with path.open("a", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            return path
        except OSError as exc:
            last = exc
    assert last is not None
    raise last


def _jsonable(kind: str, row: tuple[Any, ...]) -> list[Any]:
    out = list(row)
    if kind == "spectrum":
        out[5] = base64.b64encode(bytes(out[5])).decode("ascii")
    elif kind == "event":
        out[2] = out[2].isoformat()
    return [v.item() if isinstance(v, np.generic) else v for v in out]


def recovery_files(location: Any) -> list[Path]:
    """Every recovery file of the database at ``location``."""
    found: list[Path] = []
    for base in candidates(location):
        try:
            found += sorted(base.parent.glob(f"{base.name}.recovery-*.jsonl"))
        except OSError:
            continue
    return found


def _read(path: Path, shown: str) -> tuple[dict[str, list[list[Any]]], list[dict[str, Any]], list[str]]:
    rows: dict[str, list[list[Any]]] = {k: [] for k in KINDS}
    ends: list[dict[str, Any]] = []
    errors: list[str] = []
    with path.open(encoding="utf-8") as fh:
        for raw in fh:
            line = raw.strip()
            if not line:
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:  # a line cut short when the disk filled: nothing after it is whole
                errors.append("a truncated line")
                continue
            if not isinstance(obj, dict):
                continue
            if obj.get("format") == FORMAT:
                if obj.get("db") not in (None, shown):
                    return {k: [] for k in KINDS}, [], [f"belongs to database {obj.get('db')!r}"]
                errors.append(str(obj.get("error")))
            elif "end" in obj:
                ends.append(obj["end"])
            else:
                for kind in KINDS:
                    if kind in obj:
                        rows[kind].append(obj[kind])
    return rows, ends, errors


def ingest_spill(store: Any, run_id: int) -> list[str]:
    """Commit the rows of ``run_id`` from every recovery file of ``store``'s database and delete the files
    that hold nothing else; return one message per file (for the run's log)."""
    notes: list[str] = []
    run_steps = {s.id for s in store.steps(run_id)}
    for path in recovery_files(store.location):
        try:
            rows, ends, errors = _read(path, str(store.location.shown))
        except OSError as exc:
            notes.append(f"recovery file {path}: unreadable ({exc}); left in place")
            continue
        if errors and errors[0].startswith("belongs to"):
            continue
        mine = {
            "cycling": [r for r in rows["cycling"] if int(r[0]) in run_steps],
            "iv": [r for r in rows["iv"] if int(r[0]) in run_steps],
            "spectrum": [r for r in rows["spectrum"] if int(r[0]) in run_steps],
            "event": [r for r in rows["event"] if r[0] == run_id],
        }
        ended = [e for e in ends if e.get("run_id") == run_id]
        others = sum(len(v) for v in rows.values()) - sum(len(v) for v in mine.values())
        if not any(mine.values()) and not ended:
            continue
        counts = _commit(store, run_id, mine)
        for end in ended:  # how the engine ended, which the store refused then
            status, reason = str(end.get("status") or "failed"), str(end.get("reason"))
            if store.run(run_id).status == "running":
                store.finish_run(run_id, status, reason)
            store.log_event(run_id, "error", f"the engine ended {status} but could not store it: {reason}")
        if others == 0:
            path.unlink(missing_ok=True)
            fate = "deleted"
        else:
            _rewrite_without(path, run_steps, run_id)
            fate = f"kept for the {others} row(s) of other runs"
        what = ", ".join(f"{n} {k} row(s)" for k, n in counts.items() if n) or "nothing new"
        why = "; ".join(e for e in errors if e) or "unknown"
        notes.append(f"ingested recovery file {path} ({what}; the store had refused them: {why}); {fate}")
    return notes


def _commit(store: Any, run_id: int, rows: dict[str, list[list[Any]]]) -> dict[str, int]:
    """Write the rows the store does not hold yet; returns how many of each kind were written."""
    counts = dict.fromkeys(KINDS, 0)
    cyc = store.cycling(run_id)
    have_t = {(int(s), float(t)) for s, t in zip(cyc.step_id, cyc.t, strict=True)}
    iv = store.iv(run_id)
    have_iv = {(int(s), float(v), float(i)) for s, v, i in zip(iv.step_id, iv.V, iv.I, strict=True)}
    have_ev = {(e.time.replace(tzinfo=None).isoformat(), e.message) for e in store.events(run_id)}
    spectra = store.spectra(run_id) if rows["spectrum"] else None
    have_sp = set()
    if spectra is not None and len(spectra):
        have_sp = {(int(s), float(t), int(p)) for s, t, p in zip(spectra.step_id, spectra.t, spectra.pixel,
                                                                strict=True)}
    with store.writer() as writer:
        for r in _unique(rows["cycling"], lambda r: (int(r[0]), float(r[1])), have_t):
            writer.cycling_point(int(r[0]), *map(float, r[1:5]))
            counts["cycling"] += 1
        for r in _unique(rows["iv"], lambda r: (int(r[0]), float(r[1]), float(r[2])), have_iv):
            writer.iv_point(int(r[0]), float(r[1]), float(r[2]), r[3], r[4], None if r[5] is None else r[5])
            counts["iv"] += 1
        for r in _unique(rows["spectrum"], lambda r: (int(r[0]), _f(r[9]), -1 if r[8] is None else int(r[8])),
                         have_sp):
            counts_arr = np.frombuffer(base64.b64decode(r[5]), dtype="<f4")
            writer.spectrum(int(r[0]), r[1], r[2], r[3], r[4], counts_arr, int(r[6]), r[7], r[8], r[9])
            counts["spectrum"] += 1
        for r in rows["event"]:
            when = dt.datetime.fromisoformat(r[2])
            if (when.replace(tzinfo=None).isoformat(), r[4]) in have_ev:
                continue
            writer.event(r[0], r[3], str(r[4]), r[1], when=when)
            counts["event"] += 1
    return counts


def _f(x: Any) -> float:
    return float("nan") if x is None else float(x)


def _unique(rows: Iterable[list[Any]], key: Any, have: set[Any]) -> Iterable[list[Any]]:
    for r in rows:
        k = key(r)
        if k in have:
            continue
        have.add(k)
        yield r


def _rewrite_without(path: Path, steps: set[int], run_id: int) -> None:
    """Drop the rows of ``run_id`` (its ``steps``) from a recovery file shared with other runs."""
    kept = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                continue
            if not isinstance(obj, dict):
                continue
            kind = next((k for k in KINDS if k in obj), None)
            if kind == "event" and obj[kind][0] == run_id:
                continue
            if kind not in (None, "event") and int(obj[kind][0]) in steps:
                continue
            if "end" in obj and obj["end"].get("run_id") == run_id:
                continue
            kept.append(json.dumps(obj))
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(kept) + "\n", encoding="utf-8")
    tmp.replace(path)
