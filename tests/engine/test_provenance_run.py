"""A simulated run records its provenance in the store at start; a resume appends its own session."""

from __future__ import annotations

import socket

import yaml

from nanocell_daq import __version__
from nanocell_daq.engine.resume import resume_run
from nanocell_daq.engine.service import make_plan, run_plan
from nanocell_daq.storage import Store
from simulated_instruments.bench import SimulatedBench

PROTOCOL = """\
protocol: provenance iv  # a comment the stored file text keeps
parameters: {points: 5, v_max_V: 0.1}
steps:
  - iv: {label: iv, pairs: [S-D], v_max_V: $v_max_V, points: $points}
"""


def test_a_run_records_its_provenance_and_a_resume_appends_its_own(tmp_path):
    protocol = tmp_path / "iv.yaml"
    protocol.write_text(PROTOCOL, encoding="utf-8")
    with SimulatedBench(preset="si", speed=1000, seed=0) as bench, Store.open(tmp_path / "runs.db") as store:
        station = bench.write_station(tmp_path / "station.yaml")
        plan = make_plan(protocol, station, {"points": "7"})  # as `nanocell run --set points=7` plans it
        result = run_plan(plan, store, operator="ana")
        assert result.status == "completed"
        run = result.run_id
        (start,) = store.provenance(run)
        assert (start.session, start.kind, start.operator) == (0, "start", "ana")
        assert start.software_version == __version__ and start.host == socket.gethostname()
        assert start.python.startswith("CPython 3.") and "numpy" in start.libraries
        assert start.station_path == str(station.resolve())
        assert start.station_text == station.read_text(encoding="utf-8")
        assert start.protocol_path == str(protocol.resolve()) and start.protocol_text == PROTOCOL
        assert start.protocol_name == "provenance iv"
        assert start.overrides == {"points": "7"}  # as given on the command line
        assert len(store.iv(run).V) == 2 * 7  # ... and applied (up and down)

        store.finish_run(run, "interrupted", "a test")  # every step done: the resume only records itself
        again = resume_run(store, run, operator="bob")  # the stored station snapshot, no file
        assert again.status == "completed"
        first, resumed = store.provenance(run)
        assert first == start  # the start is kept as it was
        assert (resumed.session, resumed.kind, resumed.operator) == (1, "resume", "bob")
        assert resumed.station_path is None  # rebuilt from the run's snapshot: its YAML is the text
        assert yaml.safe_load(resumed.station_text) == store.run(run).station["config"]
        assert resumed.protocol_text == store.run(run).protocol_text and resumed.overrides == {}
        assert "points: 7" in resumed.protocol_text
