"""PostgreSQL works by URL: a real server (a throwaway cluster), the store's schema, writer and reads, a run
of the engine on the simulated bench and the CLI, all against it. In CI a missing server fails the tests."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nanocell_daq.cli import main
from nanocell_daq.storage import Store
from simulated_instruments.bench import SimulatedBench
from tests.engine import benchkit
from tests.storage.postgres import postgres_url


@pytest.fixture(scope="module")
def pg_url():
    with postgres_url() as url:
        yield url


def test_every_kind_of_row_round_trips_exactly(pg_url):
    rng = np.random.default_rng(3)
    with Store.open(pg_url) as store:
        run = store.create_run("pg round trip", "steps: []", station={"name": "pg"})
        charge = store.start_step(run, 0, "galvanostatic", {"current_A": 1e-12}, cycle=1, label="charge 1")
        axis = np.linspace(100.0, 1800.0, 64)
        axis_id = store.add_axis(axis)
        grid = store.add_map_grid(run, 100.0, 200.0, 0.5, 1.0, 3, 1, step_id=charge, label="map")
        t, e, i, q = (rng.random(300) for _ in range(4))
        v, ii = rng.random(21) - 0.5, rng.random(21) * 1e-9
        counts = rng.random((3, 64)).astype(np.float32) * 1000
        with store.writer(flush_interval=0.01) as w:
            for k in range(t.size):
                w.cycling_point(charge, float(t[k]), float(e[k]), float(i[k]), float(q[k]))
            for k in range(v.size):
                w.iv_point(charge, float(v[k]), float(ii[k]), "up" if k % 2 else "down", "S-D", float(k))
            for p in range(3):
                w.spectrum(charge, 100.0 + p, 200.0, 0.0, 2.0, counts[p], axis_id, grid, p, float(p))
            w.event(run, "warning", "a warning with ünïcode", charge)
        store.end_step(charge)
        store.finish_run(run, "completed")
    with Store.open(pg_url, create=False) as store:
        c = store.cycling(run)
        for got, want in ((c.t, t), (c.E, e), (c.I, i), (c.Q, q)):
            np.testing.assert_array_equal(got, want)
        iv = store.iv(run)
        np.testing.assert_array_equal(iv.V, v)
        np.testing.assert_array_equal(iv.I, ii)
        assert list(iv.direction) == ["up" if k % 2 else "down" for k in range(21)]
        sp = store.spectra(run)
        np.testing.assert_array_equal(sp.axis, axis)
        np.testing.assert_array_equal(sp.counts, counts)
        assert sp.pixel.tolist() == [0, 1, 2] and sp.x_um.tolist() == [100.0, 101.0, 102.0]
        assert store.run(run).status == "completed" and store.run(run).station == {"name": "pg"}
        assert [e.message for e in store.events(run)] == ["a warning with ünïcode"]
        assert [s.status for s in store.steps(run)] == ["completed"]


def test_an_engine_run_and_the_cli_on_postgresql(pg_url, tmp_path, capsys):
    with SimulatedBench(preset="si", speed=400, seed=1) as bench, Store.open(pg_url) as store:
        plan = benchkit.plan_for(bench, tmp_path, """
            steps:
              - iv: {pairs: [S-D], points: 5}
              - galvanostatic: {current_A: 2.0e-11, capacity_fraction: 0.05, interval_s: 2}
            """)
        result = benchkit.run_plan(plan, store)
        assert result.status == "completed", result.reason
        assert len(store.iv(result.run_id).V) == 10
        q = store.cycling(result.run_id).Q
        assert q[-1] == pytest.approx(0.05 * bench.station_dict()["device"]["nominal_capacity_Ah"] * 3600,
                                      rel=0.05)
        assert benchkit.outputs_on(bench) == {}
    capsys.readouterr()
    assert main(["runs", "--db", pg_url, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {r["id"]: r["status"] for r in listed}[result.run_id] == "completed"


def test_the_migrations_build_the_declared_schema_and_db_upgrade_migrates_an_older_one(capsys) -> None:
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import create_engine

    from nanocell_daq.errors import UserError
    from nanocell_daq.storage.migrate import alembic_config, head_revision
    from nanocell_daq.storage.schema import Base
    from tests.storage.postgres import server

    url = server().fresh_url(empty=True)
    engine = create_engine(url)
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0001")
        conn.exec_driver_sql(
            "INSERT INTO runs (uuid, protocol_name, protocol_text, station, software_version, started,"
            " status) VALUES ('u-1', 'old protocol', '', '{}', '0.0.1', '2024-01-01 00:00:00', 'completed')")
    with pytest.raises(UserError, match="older"):
        Store.open(url)
    assert main(["db", "upgrade", "--db", url]) == 0
    assert f"upgraded from schema revision 0001 to {head_revision()}" in capsys.readouterr().out
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    engine.dispose()
    assert diff == []
    with Store.open(url, create=False) as store:
        (run,) = store.runs()
        assert (run.protocol_name, run.status) == ("old protocol", "completed")
        store.set_progress(run.id, "done", 1.0)
