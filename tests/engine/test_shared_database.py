"""Several stations, one PostgreSQL database: two simulated stations, each with its own ``nanocell run``
engine process, write concurrent runs into one database while a reader follows both live (LISTEN/NOTIFY).
Every row arrives once, run ids never collide, each run holds its own lease with its engine's heartbeat."""

from __future__ import annotations

import collections

import numpy as np
import pytest

from nanocell_daq.storage import Store
from nanocell_daq.storage.leases import liveness
from simulated_instruments.bench import SimulatedBench
from tests.engine import benchkit
from tests.storage.postgres import server

PROTOCOL = """\
protocol: shared database
steps:
  - iv: {label: before, pairs: [S-D], points: 5}
  - galvanostatic: {label: charge, current_A: 2.0e-11, capacity_fraction: 0.15, interval_s: 2}
  - iv: {label: after, pairs: [S-D], points: 5}
"""


@pytest.mark.slow
def test_two_stations_run_at_once_into_one_postgresql_and_a_reader_follows_both(tmp_path) -> None:
    url = server().fresh_url()
    proto = tmp_path / "p.yaml"
    proto.write_text(PROTOCOL)
    read = collections.Counter()  # cycling points the live reader got, per run
    read_while_running: set[int] = set()
    engines: dict[int, set[int]] = collections.defaultdict(set)  # run -> engine pids its lease named
    with (
        SimulatedBench(preset="si", speed=100, seed=1) as bench1,
        SimulatedBench(preset="si", speed=100, seed=2) as bench2,
        Store.open(url, create=False) as reader,
        reader.follower() as follower,
    ):
        stations = []
        for k, bench in enumerate((bench1, bench2)):
            (tmp_path / f"s{k}").mkdir()
            stations.append(bench.write_station(tmp_path / f"s{k}" / "station.yaml"))
        procs = [benchkit.start_cli_run(proto, station, url) for station in stations]
        try:
            cursors: dict[int, int] = collections.defaultdict(int)
            wakes = 0
            while any(p.poll() is None for p in procs):
                wakes += 1
                follower.wait(5.0)
                runs = reader.runs()
                live = liveness(reader, runs)
                for r in runs:
                    if live[r.id].engine_pid is not None:
                        engines[r.id].add(live[r.id].engine_pid)
                    data = reader.cycling_since(r.id, cursors[r.id])
                    cursors[r.id] = data.last_id
                    read[r.id] += len(data)
                    if len(data) and reader.run(r.id).status == "running":
                        read_while_running.add(r.id)
            outs = [p.communicate(timeout=120) for p in procs]
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.communicate(timeout=10)
        assert [p.returncode for p in procs] == [0, 0], [o[1].decode()[-1500:] for o in outs]
        assert benchkit.outputs_on(bench1) == {} and benchkit.outputs_on(bench2) == {}
        runs = reader.runs()
        for r in runs:  # rows committed after the last wake-up
            read[r.id] += len(reader.cycling_since(r.id, cursors[r.id]))
        assert len(runs) == 2 and len({r.id for r in runs}) == 2 and len({r.uuid for r in runs}) == 2
        assert [r.status for r in runs] == ["completed", "completed"]
        for r in runs:
            stored = reader.cycling(r.id)
            assert len(stored) > 20 and read[r.id] == len(stored)  # every row arrived, none twice
            assert len(np.unique(stored.t)) == len(stored)
            assert len(reader.iv(r.id).V) == 20  # two sweeps of 5 points up and down
        # both were followed live, each run's lease named its own engine process
        assert read_while_running == {r.id for r in runs}
        assert sorted(pid for pids in engines.values() for pid in pids) == sorted(p.pid for p in procs)
        assert all(len(pids) == 1 for pids in engines.values())
        assert wakes < 200  # woken by news, not spinning
        assert not any(lv.engine_pid for lv in liveness(reader).values())  # leases released at the end

