"""The supervisor notifies after acting on its engine's death: a real supervisor process, an engine that
"dies" (its pipe closes without ``clean``), a station it cannot reach (so the end is NOT verified safe), and
the message delivered to a local receiver."""

from __future__ import annotations

import re
import socket
from pathlib import Path

from nanocell_daq.engine.stationview import StationView
from nanocell_daq.engine.supervisor import start
from nanocell_daq.storage import Store
from tests.notify.receiver import Receiver

STATION = Path(__file__).resolve().parents[1] / "engine" / "station_si.yaml"


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_supervisor_notifies_an_interrupted_run_it_could_not_verify_safe(tmp_path):
    text = re.sub(r"127\.0\.0\.1::\d+::SOCKET", lambda _: f"127.0.0.1::{_dead_port()}::SOCKET",
                  STATION.read_text())
    view = StationView.from_text(text, "station.yaml")
    with Store.open(tmp_path / "runs.db") as store, Receiver() as rx:
        run_id = store.create_run("p")
        sup = start(store, view, notify_urls=[rx.url])
        sup.run_created(run_id)
        assert sup.proc.stdin is not None
        sup.proc.stdin.close()  # the engine is gone without saying "clean"
        assert sup.proc.wait(60) == 1  # nothing verified safe: it cannot reach the station
        info = store.run(run_id)
    assert info.status == "interrupted" and "NOT verified safe" in info.reason
    assert rx.titles() == [f"nanocell: run {run_id} interrupted, NOT verified safe (engine died)"]
    assert "unreachable" in rx.messages[0]["message"]
