"""The schema compiles for PostgreSQL and the generic write path works (a real server: test_postgresql.py)."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import CreateIndex, CreateTable

from nanocell_daq.storage import Store, StoreWriteError
from nanocell_daq.storage.schema import Base


def test_every_table_compiles_for_postgresql() -> None:
    dialect = postgresql.dialect()
    ddl = []
    for table in Base.metadata.sorted_tables:
        ddl.append(str(CreateTable(table).compile(dialect=dialect)))
        ddl.extend(str(CreateIndex(ix).compile(dialect=dialect)) for ix in table.indexes)
    text = "\n".join(ddl)
    assert "BYTEA" in text and "DOUBLE PRECISION" in text and "BIGSERIAL" in text
    assert "BLOB" not in text and "DATETIME" not in text


def test_the_generic_sqlalchemy_write_path(store: Store, run_step: tuple[int, int]) -> None:
    run, step = run_step
    axis = store.add_axis(np.arange(4.0))
    w = store.writer()
    w._sqlite_fast = False  # the path PostgreSQL takes
    w.iv_point(step, 0.5, 1e-9, "up", "S-D")
    w.spectrum(step, 1.0, 2.0, 3.0, 0.1, np.ones(4), axis, pixel=None)
    w.close()
    assert store.iv(run).V.tolist() == [0.5]
    assert store.spectra(run).counts.tolist() == [[1.0, 1.0, 1.0, 1.0]]


def test_store_close_raises_a_failed_writers_error(db_path) -> None:
    store = Store.open(db_path)
    w = store.writer(flush_interval=0.01)
    w.cycling_point(12345, 0.0, 0.0, 0.0, 0.0)
    with pytest.raises(StoreWriteError):
        store.close()
