"""``nanocell db copy``: whole runs between SQLite and PostgreSQL and back, equal table by table; ids
remapped; a second copy adds nothing; a run an engine still drives, or one changed since it was copied,
is refused with nothing copied."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sqlalchemy import select

from nanocell_daq.cli import main
from nanocell_daq.engine.lease import EngineLease
from nanocell_daq.errors import UserError
from nanocell_daq.storage import Store
from nanocell_daq.storage.copy import copy_runs
from nanocell_daq.storage.schema import (
    Control,
    CyclingBlock,
    DerivedResultRow,
    Device,
    Event,
    IVPoint,
    MapGridRow,
    ProvenanceRow,
    Run,
    RunProgress,
    SpectrumRow,
    Step,
    WavenumberAxis,
)
from tests.storage.postgres import PASSWORD, server


def _fill(store: Store, seed: int = 0) -> int:
    """A run with something in every table: a device, two attempts of one step, cycling blocks, I-V,
    a map of spectra on a shared axis, derived results, events, control requests and progress."""
    rng = np.random.default_rng(seed)
    dev = store.add_device("chip-7", "w3", {"anode": "Si"}, {"length_um": 12.5}, {"S": 1},
                           {"nan": float("nan")})
    record = {"host": "station-pc", "operator": "ana", "station_text": "name: bench A\n",
              "protocol_name": "copy me", "protocol_text": "steps: []\n", "overrides": {"cycles": "2"},
              "git_commit": "abc", "git_dirty": False}
    run = store.create_run("copy me", "steps: []", device_id=dev, station={"name": "bench A"}, operator="ana",
                           provenance=record)
    store.add_provenance(run, {**record, "operator": "bob", "station_path": None})  # a resume
    first = store.start_step(run, 0, "galvanostatic", {"current_A": 1e-12, "plan_index": 0}, cycle=1,
                             label="charge")
    axis = store.add_axis(np.linspace(100.0, 1800.0, 32))
    with store.writer(flush_interval=60) as w:
        for k in range(30):
            w.cycling_point(first, k * 2.0, 3.0 + 0.01 * k, 1e-12, 2e-12 * k)
        w.flush()
        for k in range(12):
            w.cycling_point(first, 60.0 + k, 3.4, 1e-12, 6e-11 + 1e-12 * k)
        w.event(run, "warning", "interrupted by a test", first)
    store.end_step(first, "interrupted")
    again = store.start_step(run, 1, "galvanostatic", {"current_A": 1e-12, "plan_index": 0}, cycle=1,
                             label="charge (resumed)")
    grid = store.add_map_grid(run, 10.0, 20.0, 0.5, 0.5, 2, 2, step_id=again, label="map")
    counts = rng.random((4, 32)).astype(np.float32)
    with store.writer(flush_interval=60) as w:
        for k in range(20):
            w.cycling_point(again, 100.0 + k, 3.6, 1e-12, 1e-12 * k)
            w.iv_point(again, k * 0.1 - 1.0, float(rng.normal()) * 1e-9, "up" if k < 10 else "down", "S-D", k)
        for p in range(4):
            w.spectrum(again, 10.0 + p % 2, 20.0 + p // 2, 0.0, 1.5, counts[p], axis, grid, p, 200.0 + p)
    store.end_step(again)
    store.log_event(run, "info", "done, ünïcode kept")
    store.put_derived(run, "capacity", {"cycle": 1}, {"Q_C": 1.2e-10, "fit": [1.0, float("inf")]})
    ctl = store.request_control(run, "pause", requested_by="gui")
    store.acknowledge_control(ctl, note="paused")
    store.set_progress(run, "charge (resumed)", 1.0, 0.0)
    store.finish_run(run, "completed")
    return run


def dump(store: Store, uuid: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of the run, table by table in id order, ids replaced by what they point at."""
    with store._engine.connect() as c:
        run = c.execute(select(*Run.__table__.c).where(Run.uuid == uuid)).one()._asdict()
        steps = dict(c.execute(select(Step.id, Step.index).where(Step.run_id == run["id"])).all())
        grids = {g: k for k, g in enumerate(c.scalars(select(MapGridRow.id).where(
            MapGridRow.run_id == run["id"]).order_by(MapGridRow.id)))}
        axes = dict(c.execute(select(WavenumberAxis.id, WavenumberAxis.values)).all())
        out: dict[str, list[dict[str, Any]]] = {}
        if run["device_id"] is not None:
            dev = c.execute(select(*Device.__table__.c).where(Device.id == run["device_id"])).one()._asdict()
            out["devices"] = [{k: v for k, v in dev.items() if k != "id"}]
        out["runs"] = [{k: v for k, v in run.items() if k not in ("id", "device_id")}]
        for table in (Step, RunProgress, MapGridRow, CyclingBlock, IVPoint, SpectrumRow, DerivedResultRow,
                      Event, Control, ProvenanceRow):
            order = table.id if "id" in table.__table__.c else table.run_id
            rows = []
            for r in c.execute(select(*table.__table__.c).where(table.run_id == run["id"]).order_by(order)):
                row = r._asdict()
                row.pop("id", None)
                row.pop("run_id")
                if row.get("step_id") is not None:
                    row["step_id"] = steps[row["step_id"]]
                if row.get("grid_id") is not None:
                    row["grid_id"] = grids[row["grid_id"]]
                if "axis_id" in row:
                    row["axis_id"] = bytes(axes[row.pop("axis_id")])
                rows.append({k: bytes(v) if isinstance(v, memoryview) else v for k, v in row.items()})
            out[table.__tablename__] = rows
    return out


def test_round_trip_sqlite_postgresql_sqlite_is_equal_table_by_table(tmp_path, capsys) -> None:
    first = tmp_path / "station.db"
    pg = server().fresh_url()
    back = tmp_path / "back.db"
    with Store.open(first) as store:
        run = _fill(store)
        uuid = store.run(run).uuid
        original = dump(store, uuid)
    with Store.open(pg) as lab:  # the lab database already has runs: the copy gets other ids
        for _ in range(3):
            lab.finish_run(lab.create_run("other station's run"))
    assert main(["db", "copy", str(run), "--from", str(first), "--to", pg]) == 0
    assert main(["db", "copy", uuid, "--from", pg, "--to", str(back)]) == 0
    out = capsys.readouterr()
    assert f"run {run} ({uuid}) of {first} -> run 4 of postgresql+psycopg://nanocell:***@" in out.out
    assert "2 steps, 1 map_grids, 3 cycling_blocks, 20 iv_points, 4 spectra" in out.out
    assert "62 cycling points" in out.out
    assert PASSWORD not in out.out + out.err
    with Store.open(pg, create=False) as lab:
        assert lab.run(uuid).id == 4
        on_pg = dump(lab, uuid)
        assert lab.cycling(4).t.tolist() == Store.open(first).cycling(run).t.tolist()
    with Store.open(back, create=False) as store:
        again = dump(store, uuid)
    assert sorted(original) == sorted(on_pg) == sorted(again)
    for table in original:
        assert original[table] == on_pg[table], table
        assert original[table] == again[table], table
    assert len(original["spectra"]) == 4 and len(original["cycling_blocks"]) == 3 and original["control"]
    assert [(p["session"], p["operator"]) for p in original["provenance"]] == [(0, "ana"), (1, "bob")]
    assert "2 provenance" in out.out

    # a second copy, either way, adds nothing
    assert main(["db", "copy", str(run), "--from", str(first), "--to", pg]) == 0
    assert main(["db", "copy", "1", "--from", str(back), "--to", pg]) == 0
    out = capsys.readouterr().out
    assert out.count("already in") == 2 and "nothing copied" in out
    with Store.open(pg, create=False) as lab:
        assert len(lab.runs()) == 4 and dump(lab, uuid) == on_pg
        with lab._engine.connect() as c:
            assert c.execute(select(WavenumberAxis.id)).all().__len__() == 1
            assert len(c.execute(select(Device.id)).all()) == 1


def test_a_running_run_is_refused_and_so_is_one_changed_since_copied(tmp_path, capsys) -> None:
    src_path, dest = tmp_path / "station.db", tmp_path / "lab.db"
    with Store.open(src_path) as src:
        done = _fill(src)
        live = src.create_run("still running")
        lease = EngineLease(src, "station:x")
        lease.acquire(live)  # an engine holds it and beats
        try:
            code = main(["db", "copy", str(done), str(live), "--from", str(src_path), "--to", str(dest)])
            err = capsys.readouterr().err
            assert code == 2 and err.count("\n") == 1
            assert f"run {live} is still running (engine pid " in err and "nothing was copied" in err
            with Store.open(dest, create=False) as lab:
                assert lab.runs() == []  # the finished run was not copied either
        finally:
            lease.release()
        with pytest.raises(UserError, match="no run '99'"):
            copy_runs(src, src, ["99"])
        with Store.open(dest) as lab:
            assert [c.outcome for c in copy_runs(src, lab, [str(done)])] == ["copied"]
            src.reopen_run(done)  # resumed after it was copied: more data
            src.log_event(done, "info", "resumed")
            src.finish_run(done)
            with pytest.raises(UserError, match=r"other content .* nothing was copied or overwritten"):
                copy_runs(src, lab, [str(done)])
            with pytest.raises(UserError, match="the same database"):
                copy_runs(src, src, [str(done)])
