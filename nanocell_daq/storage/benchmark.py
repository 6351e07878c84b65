"""``nanocell bench storage``: write and load rates of the run store against the raw driver.

Without ``--db``: an SQLite file in a temporary folder against plain sqlite3 ``executemany``. With
``--db PATH``: the same in a temporary folder next to PATH (the same disk). With ``--db postgresql://...``:
the store in a throwaway schema of that database (created and dropped again; needs the CREATE privilege
there, nothing else is touched) against psycopg ``COPY`` of the same rows into a plain table of that
schema: baseline and store measured in the same run on the same server. The JSON keys are the same.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.engine import URL

from nanocell_daq.errors import UserError
from nanocell_daq.storage import location
from nanocell_daq.storage.store import Store

TARGETS = "api >= 0.5 x raw; 2M rate >= 0.8 x 20k rate; >= 10,000 spectra/s; load 1M <= 0.5 s"


def raw_rows_per_s(folder: Path, n: int) -> float:
    """Plain sqlite3 executemany of n rows (run_id, step_id, t, E, I, Q) into a WAL file, one commit."""
    con = sqlite3.connect(folder / "raw.db")
    con.execute("PRAGMA journal_mode = WAL")
    con.execute("PRAGMA synchronous = NORMAL")
    con.execute(
        "CREATE TABLE cycling_points (id INTEGER PRIMARY KEY, run_id INTEGER, step_id INTEGER,"
        " t_s REAL, e_v REAL, i_a REAL, q_c REAL)"
    )
    rows = [(1, 1, i * 0.1, 3.7, 1e-12, i * 1e-13) for i in range(n)]
    t0 = time.perf_counter()
    con.executemany(
        "INSERT INTO cycling_points (run_id, step_id, t_s, e_v, i_a, q_c) VALUES (?,?,?,?,?,?)", rows
    )
    con.commit()
    elapsed = time.perf_counter() - t0
    con.close()
    return n / elapsed


def _pg_connect(url: URL) -> Any:
    import psycopg

    cargs, cparams = url.get_dialect()().create_connect_args(url)  # as SQLAlchemy would connect
    return psycopg.connect(*cargs, **cparams)


def pg_raw_rows_per_s(url: URL, schema: str, n: int) -> float:
    """psycopg ``COPY ... FROM STDIN`` of n rows (run_id, step_id, t, E, I, Q) into a plain table of
    ``schema``, one commit: what the server takes from a client that does nothing else."""
    with _pg_connect(url) as con:
        con.execute(
            f"CREATE TABLE {schema}.cycling_points (id BIGSERIAL PRIMARY KEY, run_id INTEGER,"
            " step_id INTEGER, t_s DOUBLE PRECISION, e_v DOUBLE PRECISION, i_a DOUBLE PRECISION,"
            " q_c DOUBLE PRECISION)"
        )
        con.commit()
        rows = [(1, 1, i * 0.1, 3.7, 1e-12, i * 1e-13) for i in range(n)]
        t0 = time.perf_counter()
        with con.cursor() as cur, cur.copy(
            f"COPY {schema}.cycling_points (run_id, step_id, t_s, e_v, i_a, q_c) FROM STDIN"
        ) as copy:
            for row in rows:
                copy.write_row(row)
        con.commit()
        rate = n / (time.perf_counter() - t0)
        con.execute(f"DROP TABLE {schema}.cycling_points")  # the schema then holds the store alone
        con.commit()
        return rate


@contextlib.contextmanager
def _pg_schema(loc: location.Location) -> Iterator[tuple[str, URL]]:
    """A throwaway schema on the server of ``loc`` and a URL whose connections work in it; dropped after."""
    schema = f"nanocell_bench_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        con = _pg_connect(loc.url)
    except Exception as exc:  # noqa: BLE001 - psycopg's errors: one line, password redacted
        raise UserError(f"{loc.shown}: cannot open the database ({location.shown_error(loc, exc)})") from None
    with con:
        try:
            con.execute(f"CREATE SCHEMA {schema}")
            con.commit()
        except Exception as exc:  # noqa: BLE001
            raise UserError(
                f"{loc.shown}: cannot create a schema for the benchmark ({location.shown_error(loc, exc)})"
            ) from None
        try:
            yield schema, loc.url.update_query_dict({"options": f"-csearch_path={schema}"})
        finally:
            con.rollback()
            con.execute(f"DROP SCHEMA {schema} CASCADE")
            con.commit()


def _new_run(store: Store, n_steps: int = 1) -> tuple[int, list[int]]:
    run = store.create_run("bench", "benchmark")
    return run, [store.start_step(run, k, "galvanostatic") for k in range(n_steps)]


def api_rows_per_s(store: Store, n: int, n_steps: int = 1) -> tuple[float, int, list[int]]:
    """n cycling points through the Writer, one call per point; timed until all are committed."""
    run, steps = _new_run(store, n_steps)
    per_step = n // n_steps
    t0 = time.perf_counter()
    writer = store.writer(flush_interval=0.5)
    append = writer.cycling_point
    for step in steps:
        for i in range(per_step):
            append(step, i * 0.1, 3.7, 1e-12, i * 1e-13)
    writer.close()
    return n_steps * per_step / (time.perf_counter() - t0), run, steps


def spectra_per_s(store: Store, n: int, m: int = 1024) -> float:
    """n spectra of m float32 counts through the Writer; timed until all are committed."""
    _run, (step,) = _new_run(store)
    axis = store.add_axis(np.linspace(100.0, 1800.0, m))
    counts = np.random.default_rng(0).normal(1000.0, 30.0, m).astype(np.float32)
    t0 = time.perf_counter()
    writer = store.writer(flush_interval=0.5)
    for k in range(n):
        writer.spectrum(step, k * 0.1, 0.0, 0.0, 1.0, counts, axis, pixel=k)
    writer.close()
    return n / (time.perf_counter() - t0)


def load_s(store: Store, run: int, step: int) -> tuple[float, int]:
    """Seconds to load one step's cycling points back as numpy arrays."""
    t0 = time.perf_counter()
    data = store.cycling(run, step_id=step)
    return time.perf_counter() - t0, len(data)


def run_benchmark(
    quick: bool = False, echo: Callable[[str], Any] = print, db: str | None = None
) -> dict[str, Any]:
    """Measure everything (see the module); prints figures, returns the JSON-able result."""
    n_raw, n_small, n_big, n_spec = (
        (20_000, 20_000, 200_000, 1_000) if quick else (1_000_000, 20_000, 2_000_000, 10_000)
    )
    loc = None if db is None else location.resolve(db)
    with contextlib.ExitStack() as stack:
        if loc is not None and not loc.is_sqlite:
            if loc.url.get_backend_name() != "postgresql":
                raise UserError(f"{loc.shown}: the storage benchmark knows SQLite and PostgreSQL")
            schema, url = stack.enter_context(_pg_schema(loc))
            raw = pg_raw_rows_per_s(loc.url, schema, n_raw)
            echo(f"raw psycopg COPY ({n_raw:,} rows, same server):  {raw:12,.0f} rows/s")
            target: Any = url.render_as_string(hide_password=False)
        else:
            near = None if loc is None else str(loc.path.parent)  # type: ignore[union-attr]
            if near is not None and not os.path.isdir(near):
                raise UserError(f"{loc.shown}: folder {near} does not exist")  # type: ignore[union-attr]
            tmp = tempfile.TemporaryDirectory(prefix="nanocell-bench-", dir=near)
            folder = Path(stack.enter_context(tmp))
            raw = raw_rows_per_s(folder, n_raw)
            echo(f"raw sqlite3 executemany ({n_raw:,} rows, WAL):    {raw:12,.0f} rows/s")
            target = folder / "store.db"
        store = Store.open(target)
        try:
            # 20k points take ~20 ms: the median of 5 keeps one scheduler hiccup from deciding the figure
            small = statistics.median(api_rows_per_s(store, n_small)[0] for _ in range(5))
            echo(f"store API, {n_small:,} points, 1 call each:      {small:12,.0f} rows/s (median of 5)")
            big, run, steps = api_rows_per_s(store, n_big, n_steps=2)
            echo(f"store API, {n_big:,} points, 1 call each:     {big:12,.0f} rows/s")
            spec = spectra_per_s(store, n_spec)
            echo(f"spectra ({n_spec:,} x 1024 float32):            {spec:12,.0f} spectra/s")
            load, n_loaded = load_s(store, run, steps[0])
            echo(f"load {n_loaded:,} cycling points to numpy:         {load:12.3f} s")
        finally:
            store.close()
    result = {
        "raw_rows_per_s": round(raw),
        "api_rows_per_s_20k": round(small),
        "api_rows_per_s_2m": round(big),
        "spectra_per_s": round(spec),
        "load_1m_s": round(load, 4),
        "api_20k_vs_raw": round(small / raw, 3),
        "api_2m_vs_raw": round(big / raw, 3),
        "api_2m_vs_20k": round(big / small, 3),
        "quick": quick,
        "backend": "sqlite" if loc is None or loc.is_sqlite else "postgresql",
    }
    echo(
        f"ratios: 20k API / raw = {small / raw:.2f}, 2M API / raw = {big / raw:.2f}, "
        f"2M / 20k = {big / small:.2f}"
    )
    echo(f"targets: {TARGETS}" + (" (quick run: smaller sizes, figures not comparable)" if quick else ""))
    echo(json.dumps(result))
    return result


def main(quick: bool = False, db: str | None = None) -> dict[str, Any]:
    """Entry point for ``nanocell bench storage``."""
    return run_benchmark(quick=quick, db=db)
