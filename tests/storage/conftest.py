"""Fixtures for the store tests: a fresh SQLite store in a temporary folder, with a run and a step."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from nanocell_daq.storage import Store


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "runs.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[Store]:
    s = Store.open(db_path)
    yield s
    s.close()


@pytest.fixture
def run_step(store: Store) -> tuple[int, int]:
    run = store.create_run("si-cycling", "steps: [charge]")
    return run, store.start_step(run, 0, "charge", {"current_A": 1e-11}, cycle=1, label="charge 1")
