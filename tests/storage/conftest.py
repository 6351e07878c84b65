"""Fixtures for the store tests: a fresh store in a temporary folder (SQLite) and a fresh database on the
test PostgreSQL server, with a run and a step. ``store`` and ``db_url`` run each test on both backends;
a test that is about SQLite files says so with ``@pytest.mark.parametrize("backend", ["sqlite"])``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from nanocell_daq.storage import Store
from tests.storage.postgres import server

BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "runs.db"


@pytest.fixture
def db_url(backend: str, db_path: Path) -> str:
    """Where the test's store lives: the SQLite file ``db_path``, or a new PostgreSQL database."""
    return str(db_path) if backend == "sqlite" else server().fresh_url()


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = Store.open(db_url)
    yield s
    s.close()


@pytest.fixture
def run_step(store: Store) -> tuple[int, int]:
    run = store.create_run("si-cycling", "steps: [charge]")
    return run, store.start_step(run, 0, "charge", {"current_A": 1e-11}, cycle=1, label="charge 1")
