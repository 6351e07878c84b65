"""The run queue through the CLI against ``nanocell sim serve``: three entries over two devices of one chip,
one failing (a limit trips on the second device, whose pads the simulated bench leaves open), one held and
one cancelled; notifications really delivered to a local HTTP receiver while a second target is dead."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from nanocell_daq.cli import main
from nanocell_daq.storage import Store
from tests.notify.receiver import Receiver, dead_url
from tests.station.chip_devices import dump, two_device_station

NANOCELL = Path(sys.executable).with_name("nanocell")

IV = """\
protocol: quick iv
parameters: {compliance: 1.0e-6}
steps:
  - iv: {label: quick, pairs: [S-D], v_max_V: 0.1, points: 5, compliance_A: $compliance, settle_s: 0.01}
"""
CHARGE = """\
protocol: short charge
steps:
  - galvanostatic: {current_A: 5.0e-12, v_min_V: 2.5, v_max_V: 4.0, max_time_s: 60}
"""


@pytest.fixture
def chip(tmp_path):
    """A running ``nanocell sim serve`` (its own process) and a two-device station file for it."""
    sim = tmp_path / "sim.yaml"
    proc = subprocess.Popen([str(NANOCELL), "sim", "serve", "--preset", "si", "--speed", "5000",
                             "--station-out", str(sim)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not sim.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        assert sim.exists(), "sim serve wrote no station file"
        station = tmp_path / "chip.yaml"
        station.write_text(dump(two_device_station(yaml.safe_load(sim.read_text()))))
        yield station
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _json(capsys, argv: list[str]) -> list[dict]:
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.slow
def test_queue_runs_entries_over_two_devices_one_failing_and_notifies(chip, tmp_path, capsys):
    (tmp_path / "iv.yaml").write_text(IV)
    (tmp_path / "charge.yaml").write_text(CHARGE)
    db = str(tmp_path / "runs.db")
    station = ["--station", str(chip), "--db", db]
    iv, charge = str(tmp_path / "iv.yaml"), str(tmp_path / "charge.yaml")
    assert main(["queue", "add", iv, *station, "--device", "nw1"]) == 0
    assert main(["queue", "add", charge, *station, "--device", "nw2"]) == 0
    # nw2 allows 2e-7 A on S-D: its I-V is refused as added, and queued with a smaller compliance
    assert main(["queue", "add", iv, *station, "--device", "nw2"]) == 2
    assert "device limit 2e-07 A" in capsys.readouterr().err
    assert main(["queue", "add", iv, *station, "--device", "nw2", "--set", "compliance=1e-7"]) == 0
    assert main(["queue", "add", iv, *station, "--device", "nw1", "--hold"]) == 0
    assert main(["queue", "add", iv, *station, "--device", "nw1"]) == 0
    assert main(["queue", "cancel", "5", "--db", db]) == 0
    assert main(["queue", "release", "5", "--db", db]) == 2  # a cancelled entry stays cancelled
    assert "queue entry 5 is cancelled: only a held entry can be released" in capsys.readouterr().err
    notify = tmp_path / "notify.yaml"
    with Receiver() as rx:
        notify.write_text(yaml.safe_dump({"urls": [dead_url(), rx.url]}))
        code = main(["queue", "run", "--station", str(chip), "--db", db, "--notify", str(notify)])
        out, err = capsys.readouterr()
    assert code == 1, out + err  # one run failed; the queue still ran the rest
    assert "queue empty: 2 completed, 1 failed" in out
    entries = _json(capsys, ["queue", "list", "--db", db, "--json"])
    assert [(e["id"], e["device"], e["state"]) for e in entries] == [
        (1, "nw1", "completed"), (2, "nw2", "failed"), (3, "nw2", "completed"), (4, "nw1", "held"),
        (5, "nw1", "cancelled")]
    assert entries[2]["overrides"] == {"compliance": "1e-7"}
    assert "limit overshoot" in entries[1]["reason"]
    with Store.open(db, create=False) as store:
        runs = {e["id"]: store.run(e["run_id"]) for e in entries[:3]}
        assert [runs[i].status for i in (1, 2, 3)] == ["completed", "failed", "completed"]
        assert [runs[i].station["config"]["device"]["device"] for i in (1, 2, 3)] == ["nw1", "nw2", "nw2"]
        assert runs[2].station["config"]["wirings"]["cycling"]["channels"][0] == "1A05"
        (start,) = store.provenance(runs[3].id)  # a queue entry's run: its --set and device as given
        assert (start.kind, start.device, start.overrides) == ("start", "nw2", {"compliance": "1e-7"})
        assert start.protocol_text == IV and start.station_text == chip.read_text(encoding="utf-8")
    run_ids = [entries[i]["run_id"] for i in range(3)]
    titles = rx.titles()
    assert f"nanocell: run {run_ids[0]} completed" in titles
    assert f"nanocell: run {run_ids[1]} failed" in titles
    assert f"nanocell: run {run_ids[1]}: limit tripped" in titles
    assert f"nanocell: run {run_ids[2]} completed" in titles
    assert titles[-1] == "nanocell: queue empty"
    trip = next(m for m in rx.messages if m["title"].endswith("limit tripped"))
    assert "device nw2" in trip["message"] and "E = " in trip["message"]
    assert "json://127.0.0.1 failed; retrying" in err  # the dead target was logged, the runs went on


def test_queue_run_refuses_before_anything_starts_when_an_entry_does_not_plan(chip, tmp_path, capsys):
    (tmp_path / "iv.yaml").write_text(IV)
    db = str(tmp_path / "runs.db")
    assert main(["queue", "add", str(tmp_path / "iv.yaml"), "--station", str(chip), "--db", db,
                 "--device", "nw1"]) == 0
    single = tmp_path / "sim.yaml"  # the bench's own single-device file: no device nw1 in it
    assert main(["queue", "run", "--station", str(single), "--db", db]) == 2
    err = capsys.readouterr().err
    assert "the queue was not started: 1 entry does not plan on this station" in err
    assert "entry 1 (iv on nw1): sim.yaml:1: --device nw1: the station file has no devices: section" in err
    with Store.open(db, create=False) as store:
        assert store.runs() == []
    assert [e["state"] for e in _json(capsys, ["queue", "list", "--db", db, "--json"])] == ["queued"]
