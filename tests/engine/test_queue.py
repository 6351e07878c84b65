"""The queue runner's policy with a stand-in for the engine: validation before the first run, failures
that do (not) stop the queue, aborts, a busy station, entries added or held meanwhile, orphans."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from nanocell_daq.engine.lease import LeaseHeld
from nanocell_daq.engine.queue import QueueRunner, close_orphans
from nanocell_daq.engine.runner import RunResult
from nanocell_daq.errors import UserError
from nanocell_daq.storage import Store
from nanocell_daq.storage import queue as rows
from tests.station.chip_devices import dump, two_device_station

STATION = Path(__file__).with_name("station_si.yaml")
IV = "protocol: iv\nsteps:\n  - iv: {pairs: [S-D], v_max_V: $v, points: 5, compliance_A: 1.0e-7}\n" \
     "parameters: {v: 0.2}\n"


class Notes:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []

    def notify(self, kind: str, title: str, body: str = "") -> None:
        self.sent.append((kind, title, body))


class FakeEngine:
    """Ends each run as ``script`` says (by queue entry id); records what it ran, on which device."""

    def __init__(self, store: Store, script: dict[int, str | BaseException]) -> None:
        self.store, self.script, self.ran = store, script, []

    def __call__(self, plan, entry, created) -> RunResult:
        self.ran.append((entry.id, plan.station.config.device_name))
        outcome = self.script.get(entry.id, "completed")
        if isinstance(outcome, BaseException):
            raise outcome
        run_id = self.store.create_run(plan.protocol.name, "")
        created(run_id)
        assert rows.entry(self.store, entry.id).run_id == run_id  # visible while it runs
        self.store.finish_run(run_id, outcome, None if outcome == "completed" else f"it {outcome}")
        return RunResult(run_id, outcome, None if outcome == "completed" else f"it {outcome}", [])


@pytest.fixture
def store(tmp_path):
    with Store.open(tmp_path / "q.db") as s:
        yield s


@pytest.fixture
def chip(tmp_path) -> Path:
    path = tmp_path / "chip.yaml"
    path.write_text(dump(two_device_station(yaml.safe_load(STATION.read_text()))))
    return path


def add(store, device=None, **kw) -> int:
    return rows.add(store, "iv.yaml", IV, device=device, **kw)


def test_a_failed_run_does_not_stop_the_queue_and_each_runs_on_its_device(store, chip):
    ids = [add(store, "nw1"), add(store, "nw2"), add(store, "nw2")]
    notes = Notes()
    engine = FakeEngine(store, {ids[1]: "failed"})
    outcomes = QueueRunner(store, chip, engine, notifier=notes).run()
    assert engine.ran == [(ids[0], "nw1"), (ids[1], "nw2"), (ids[2], "nw2")]
    assert [(o.entry_id, o.state) for o in outcomes] == list(zip(ids, ["completed", "failed", "completed"],
                                                                 strict=True))
    assert [e.state for e in rows.entries(store)] == ["completed", "failed", "completed"]
    assert [e.run_id for e in rows.entries(store)] == [o.run_id for o in outcomes]
    assert notes.sent[-1][0] == "queue_empty"


def test_stop_on_failure_and_abort_stop_the_queue_leaving_the_rest_queued(store, chip):
    first, second, third = add(store, "nw1", stop_on_failure=True), add(store, "nw2"), add(store, "nw2")
    notes = Notes()
    queue = QueueRunner(store, chip, FakeEngine(store, {first: "interrupted"}), notifier=notes)
    queue.run()
    assert [e.state for e in rows.entries(store)] == ["interrupted", "queued", "queued"]
    assert "stop-on-failure" in queue.stopped and notes.sent[-1][0] == "queue_stopped"
    queue = QueueRunner(store, chip, FakeEngine(store, {second: "aborted"}))
    queue.run()
    assert [e.state for e in rows.entries(store)] == ["interrupted", "aborted", "queued"]
    assert queue.stopped == f"entry {second} (iv on nw2) was aborted"
    assert rows.entry(store, third).state == "queued"


def test_every_entry_is_validated_before_the_first_run(store, chip):
    add(store, "nw1")
    add(store, "nw2", overrides={"v": "0.8"})  # nw2 allows 0.5 V on S-D
    add(store, "nw3", held=True)  # held entries are checked too: they will run once released
    engine = FakeEngine(store, {})
    with pytest.raises(UserError) as info:
        QueueRunner(store, chip, engine).run()
    message = str(info.value)
    assert message.startswith(f"{chip}: the queue was not started: 2 entries do not plan on this station")
    assert "entry 2 (iv on nw2): " in message and "device limit 0.5 V" in message
    assert "entry 3 (iv on nw3): " in message and "no such device" in message
    assert engine.ran == [] and {e.state for e in rows.entries(store)} == {"queued", "held"}


def test_held_entries_wait_and_entries_added_meanwhile_run(store):
    held = add(store, held=True)
    first = add(store)
    late: list[int] = []

    class AddsOne(FakeEngine):
        def __call__(self, plan, entry, created):
            if not late:
                late.append(add(store))
            return super().__call__(plan, entry, created)

    outcomes = QueueRunner(store, STATION, AddsOne(store, {})).run()
    assert [o.entry_id for o in outcomes] == [first, late[0]]
    assert rows.entry(store, held).state == "held"


def test_a_busy_station_puts_the_entry_back_and_stops(store):
    entry = add(store)
    queue = QueueRunner(store, STATION, FakeEngine(store, {entry: LeaseHeld("station held by run 9")}))
    assert queue.run() == []
    assert rows.entry(store, entry).state == "queued" and "station held by run 9" in queue.stopped


def test_an_entry_that_cannot_start_is_refused_and_the_queue_goes_on(store):
    bad, good = add(store), add(store)
    queue = QueueRunner(store, STATION, FakeEngine(store, {bad: UserError("instrument 'smu' unreachable")}))
    queue.run()
    assert [(e.state, e.reason) for e in rows.entries(store)] == [
        ("refused", "instrument 'smu' unreachable"), ("completed", None)]
    assert good


def test_an_entry_left_running_by_a_dead_queue_is_closed_as_its_run_ended(store):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    pid = int(dead.stdout)
    no_run, with_run, live = add(store), add(store), add(store)
    run = store.create_run("iv", "")
    store.finish_run(run, "failed", "compliance reached")
    for entry in (no_run, with_run, live):
        rows.claim(store, entry)
    for entry in (no_run, with_run):
        rows.move(store, entry, "running", when=("running",), runner_pid=pid)
    rows.set_run(store, with_run, run)
    closed = {o.entry_id: (o.state, o.reason) for o in close_orphans(store)}
    assert closed == {no_run: ("interrupted", f"the queue process (pid {pid}) ended during this entry"),
                      with_run: ("failed", "compliance reached")}
    assert rows.entry(store, live).state == "running"  # this process's own entry is left alone
