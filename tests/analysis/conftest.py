"""Shared fixtures: a synthetic run in a temporary database (built once per session: it takes a second)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.analysis.runs import build_run


@pytest.fixture(scope="session")
def si_run_db(tmp_path_factory) -> tuple[Path, int]:
    """(database path, run id) of a finished synthetic Si run: 3 checkpoints around one cycle."""
    return build_run(tmp_path_factory.mktemp("si") / "runs.db")
