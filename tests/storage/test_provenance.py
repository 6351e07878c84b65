"""Provenance sessions in the store (both backends): stored with the run, resumes appended, read back; a
database of schema 0004 upgrades and its old runs read as "unknown", not as errors."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import create_engine

from nanocell_daq import provenance
from nanocell_daq.storage import Store
from nanocell_daq.storage.migrate import alembic_config, head_revision
from tests.storage.postgres import server

RECORD = {
    "software_version": "9.9.9", "git_commit": "0123456789abcdef0123456789abcdef01234567", "git_dirty": True,
    "python": "CPython 3.12.1", "libraries": {"numpy": "2.1.0"}, "host": "lab-pc-ü", "pid": 4242,
    "command": "nanocell run si_seed --set cycles=3", "operator": "ana", "station_path": "/lab/station.yaml",
    "station_text": "name: bench A  # ünïcode\n", "device": "nw2", "protocol_name": "si seed",
    "protocol_path": "/lab/si_seed.yaml", "protocol_text": "protocol: si seed\n",
    "overrides": {"cycles": "3"},
}


def test_sessions_are_stored_with_the_run_appended_on_resume_and_read_back(store: Store) -> None:
    run = store.create_run("si seed", "protocol: si seed\n", operator="ana", provenance=RECORD)
    (start,) = store.provenance(run)
    assert (start.run_id, start.session, start.kind) == (run, 0, "start")
    assert {k: getattr(start, k) for k in RECORD} == RECORD
    assert start.recorded.tzinfo is not None
    resumed = {**RECORD, "operator": "bob", "overrides": {}, "station_path": None, "git_dirty": None}
    assert store.add_provenance(run, resumed) == 1
    first, second = store.provenance(run)
    assert first == start and (second.session, second.kind, second.operator) == (1, "resume", "bob")
    assert second.station_path is None and second.git_dirty is None and second.overrides == {}
    with pytest.raises(ValueError, match="unknown field"):
        store.add_provenance(run, {"hostname": "x"})
    with pytest.raises(KeyError):
        store.add_provenance(run + 99, RECORD)
    assert len(store.provenance(run)) == 2
    old = store.create_run("no provenance")  # as a run of schema 0004 and older
    assert store.provenance(old) == []
    listed = store.provenance(texts=False)
    assert [(p.run_id, p.session) for p in listed] == [(run, 0), (run, 1)]
    assert listed[0].station_text == "" and listed[0].host == "lab-pc-ü"


def test_of_run_reads_the_first_session_and_every_resume(store: Store) -> None:
    run = store.create_run("si seed", "protocol: si seed\nparameters: {cycles: 3}\n", operator="ana",
                           provenance=RECORD)
    store.add_provenance(run, {**RECORD, "operator": "bob"})
    prov = provenance.of_run(store, run, {"parameters": {"y": 0.8, "version": 3}})
    assert prov["software"]["version"] == "9.9.9" and prov["software"]["git_dirty"] is True
    assert prov["station"] == {"path": "/lab/station.yaml", "device": "nw2",
                               "text": RECORD["station_text"]}
    assert prov["protocol"]["overrides"] == {"cycles": "3"}
    assert prov["protocol"]["text_as_run"].endswith("{cycles: 3}\n")
    assert [s["operator"] for s in prov["sessions"]] == ["ana", "bob"]
    shown = provenance.lines(prov)
    assert shown[0].startswith("software: nanocell-daq 9.9.9 (git 0123456789ab, with local changes)")
    assert "--set cycles=3" in shown[3] and any(line.startswith("resume 1: ") for line in shown)
    assert shown[-1] == "analysis: version 3; y=0.8"
    flat = provenance.attributes(prov)
    assert flat["provenance_station_text"] == RECORD["station_text"]
    assert flat["provenance_protocol_overrides"] == '{"cycles": "3"}'


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_0004_database_upgrades_and_its_old_runs_give_unknown_provenance(backend, tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}" if backend == "sqlite" else server().fresh_url(empty=True)
    engine = create_engine(url)
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0004")
        conn.exec_driver_sql(
            "INSERT INTO runs (uuid, protocol_name, protocol_text, station, software_version, operator,"
            " started, status) VALUES ('u-4', 'old protocol', 'steps: []', '{}', '0.0.4', 'eve',"
            " '2025-06-01 00:00:00', 'completed')")
    engine.dispose()
    where = str(tmp_path / "old.db") if backend == "sqlite" else url
    assert Store.upgrade(where) == ("0004", head_revision())
    with Store.open(where, create=False) as store:
        (run,) = store.runs()
        assert store.provenance(run.id) == []
        prov = provenance.of_run(store, run.id)
        assert prov["software"]["version"] == "0.0.4" and prov["operator"] == "eve"
        for value in (prov["software"]["git_commit"], prov["host"], prov["station"]["text"],
                      prov["station"]["path"], prov["protocol"]["text"], prov["protocol"]["path"]):
            assert value == provenance.UNKNOWN
        assert prov["protocol"]["text_as_run"] == "steps: []" and prov["sessions"] == []
        assert "host unknown" in provenance.lines(prov)[0]
        assert store.add_provenance(run.id, RECORD, kind="resume") == 0  # the new table takes rows
        resumed = provenance.of_run(store, run.id)  # a resume since: listed, not taken for the start
        assert resumed["software"]["version"] == "0.0.4" and resumed["host"] == provenance.UNKNOWN
        assert [(s["kind"], s["host"]) for s in resumed["sessions"]] == [("resume", "lab-pc-ü")]
