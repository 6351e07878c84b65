"""Derived results reused across analyses: compact frames and a get-or-compute with counts of each.

A pixel-fit table of a 1,000-pixel map is ~30,000 numbers; as JSON rows (``frames.frame_to_json``) a week's
100 maps take seconds to parse. :func:`pack_frame` stores each numeric column as base64 of its float64 bytes
(other columns as JSON lists), so a cached table loads at memory speed.
"""

from __future__ import annotations

import base64
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd

PACKED = "packed-frame-1"
_PLAIN = frozenset({str, int, bool, type(None)})  # JSON values encode() leaves as they are


def pack_frame(frame: pd.DataFrame) -> dict[str, Any]:
    """A JSON-able dict of ``frame``: numeric/bool columns as base64 float64 (or int64), others as lists."""
    cols: list[list[Any]] = []
    for name in frame.columns:
        s = frame[name]
        if pd.api.types.is_bool_dtype(s) or pd.api.types.is_integer_dtype(s):
            cols.append([str(name), "i8" if not pd.api.types.is_bool_dtype(s) else "b1",
                         base64.b64encode(s.to_numpy(np.int64).astype("<i8").tobytes()).decode()])
        elif pd.api.types.is_float_dtype(s):
            raw = s.to_numpy(np.float64).astype("<f8").tobytes()
            cols.append([str(name), "f8", base64.b64encode(raw).decode()])
        else:
            cols.append([str(name), "json", encode(s.tolist()), str(s.dtype)])
    return {"format": PACKED, "n": len(frame), "columns": cols}


def unpack_frame(value: dict[str, Any]) -> pd.DataFrame:
    """Inverse of :func:`pack_frame`."""
    data: dict[str, Any] = {}
    for name, kind, payload, *dtype in value["columns"]:
        if kind == "json":  # strings (pandas' own string dtype where the frame had it) or Python objects
            kind_of = dtype[0] if dtype and dtype[0] != "object" else object
            data[name] = pd.Series(decode(payload), dtype=kind_of)
            continue
        raw = np.frombuffer(base64.b64decode(payload), dtype="<f8" if kind == "f8" else "<i8")
        data[name] = raw.astype(bool) if kind == "b1" else raw.astype(raw.dtype.newbyteorder("="))
    return pd.DataFrame(data, index=pd.RangeIndex(int(value["n"])))


def encode(value: Any) -> Any:
    """JSON-able form of analysis results that :func:`decode` turns back exactly: DataFrames packed
    (:func:`pack_frame`), dicts with non-string keys as item lists, NaN and infinities tagged (a JSON column
    of any database accepts them), numpy scalars and arrays as Python numbers and lists."""
    if isinstance(value, pd.DataFrame):
        return {"$frame": pack_frame(value)}
    if isinstance(value, dict):
        if all(isinstance(k, str) and not k.startswith("$") for k in value):
            return {k: encode(v) for k, v in value.items()}
        return {"$items": [[encode(k), encode(v)] for k, v in value.items()]}
    if isinstance(value, (list, tuple)):
        if set(map(type, value)) <= _PLAIN:  # a column of labels: nothing to tag (no per-item call)
            return list(value)
        return [encode(v) for v in value]
    if isinstance(value, np.ndarray):
        return encode(value.tolist())
    if isinstance(value, np.generic):
        return encode(value.item())
    if isinstance(value, float) and not np.isfinite(value):
        return {"$float": str(value)}
    if value is pd.NaT:
        return None
    return value


def decode(value: Any) -> Any:
    """Inverse of :func:`encode`."""
    if isinstance(value, list):
        if not set(map(type, value)) & {list, dict}:  # numbers and labels: as they are
            return list(value)
        return [decode(v) for v in value]
    if isinstance(value, dict):
        if "$frame" in value:
            return unpack_frame(value["$frame"])
        if "$items" in value:
            return {decode(k): decode(v) for k, v in value["$items"]}
        if "$float" in value:
            return float(value["$float"])
        return {k: decode(v) for k, v in value.items()}
    return value


class Reuse:
    """Derived results of one run taken from the store or computed, with counts of each (``computed`` /
    ``reused``, by kind: "raman_map_fit" maps, "spectra_fitted", "iv_fit" steps, "iv_sweeps_fitted",
    "cycling_summary", ...). The stored results of a kind are read in one query, the first time it is
    asked."""

    def __init__(self) -> None:
        self.computed: Counter[str] = Counter()
        self.reused: Counter[str] = Counter()
        self.seconds: Counter[str] = Counter()  # time spent computing each kind (s)
        self.part_s: Counter[str] = Counter()  # wall time of each part of the analysis (s), see part()
        self.part_cpu_s: Counter[str] = Counter()  # CPU time of each part, this process and its workers (s)
        self.worker_peak_rss_mb = 0.0  # peak resident set of a worker process (maps or I-V fits) (MB)
        self.iv_worker_cpu_s = 0.0  # CPU time of the child process that fitted the I-V sweeps (s)
        self._stored: dict[tuple[int, str], dict[str, Any]] = {}

    @contextmanager
    def part(self, name: str) -> Iterator[None]:
        """Count the wall and CPU time (this process) of the block as part ``name`` of the analysis."""
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.part_s[name] += time.perf_counter() - t0
            self.part_cpu_s[name] += time.process_time() - c0

    def stored(self, store: Any, run_id: int, kind: str, key: dict[str, Any]) -> Any:
        """The stored value of (run, ``kind``, ``key``) or None (a kind's rows are read once, then kept)."""
        from nanocell_daq.storage.store import params_hash

        if (run_id, kind) not in self._stored:
            rows = store.derived(run_id, kind)
            self._stored[run_id, kind] = {params_hash(r.params): r.value for r in rows}
        return self._stored[run_id, kind].get(params_hash(key))

    def get_or_compute(
        self, store: Any, run_id: int, kind: str, key: dict[str, Any], compute: Callable[[], Any], *,
        use_cache: bool = True,
    ) -> Any:
        """The stored value of (run, ``kind``, ``key``), else ``compute()``, stored under that key."""
        if use_cache:
            stored = self.stored(store, run_id, kind, key)
            if stored is not None:
                self.reused[kind] += 1
                return stored
        t0 = time.perf_counter()
        value = compute()
        self.seconds[kind] += time.perf_counter() - t0
        store.put_derived(run_id, kind, key, value)
        self.computed[kind] += 1
        return value

    def lookup_many(self, store: Any, run_id: int, kind: str, keys: list[dict[str, Any]], *,
                    use_cache: bool = True) -> list[Any]:
        """The stored value of each key (None where there is none, or all None without ``use_cache``),
        counted as reused; what is missing is computed together and given to :meth:`put_many`."""
        values = [self.stored(store, run_id, kind, key) if use_cache else None for key in keys]
        found = sum(value is not None for value in values)
        if found:
            self.reused[kind] += found
        return values

    def put_many(self, store: Any, run_id: int, kind: str, keys: list[dict[str, Any]], values: list[Any],
                 seconds: float) -> None:
        """Store values computed for ``keys`` (in ``seconds``), counted as computed."""
        for key, value in zip(keys, values, strict=True):
            store.put_derived(run_id, kind, key, value)
        if keys:
            self.computed[kind] += len(keys)
            self.seconds[kind] += seconds

    def as_dict(self) -> dict[str, Any]:
        return {"computed": dict(self.computed), "reused": dict(self.reused),
                "compute_s": {k: round(v, 3) for k, v in self.seconds.items()},
                "parts_s": {k: round(v, 3) for k, v in self.part_s.items()},
                "parts_cpu_s": {k: round(v, 3) for k, v in self.part_cpu_s.items()},
                "worker_peak_rss_mb": round(self.worker_peak_rss_mb, 1)}
