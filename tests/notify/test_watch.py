"""``nanocell notify watch``: an engine that falls silent is notified once (and once when it beats again),
delivered for real to a local receiver."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import update

from nanocell_daq.cli import main
from nanocell_daq.engine.lease import EngineLease
from nanocell_daq.notify import Notifier
from nanocell_daq.notify.watch import StaleWatch
from nanocell_daq.storage import Store
from nanocell_daq.storage.leases import STALE_AFTER_S
from nanocell_daq.storage.schema import Lease
from tests.notify.receiver import Receiver


@pytest.fixture(autouse=True)
def silent_engines(monkeypatch):
    monkeypatch.setattr(EngineLease, "start_beating", lambda self: None)


def _age(store: Store, key: str, seconds: float) -> None:
    when = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=seconds)
    with store._engine.begin() as conn:
        conn.execute(update(Lease).where(Lease.key == key).values(heartbeat=when))


def test_a_silent_engine_is_notified_once_and_again_when_it_beats(tmp_path):
    with Store.open(tmp_path / "runs.db") as store, Receiver() as rx:
        run_id = store.create_run("p")
        lease = EngineLease(store, "station:test")
        lease.acquire(run_id)
        notifier = Notifier([rx.url])
        watch = StaleWatch(store, notifier)
        assert watch.look() == []
        _age(store, f"run:{run_id}", STALE_AFTER_S + 2)
        assert watch.look() == [(run_id, "stale")]
        assert watch.look() == []  # once, not at every look
        lease.heartbeat("running", force=True)
        assert watch.look() == [(run_id, "running")]
        assert notifier.flush(20)
        notifier.close()
        lease.release()
    assert rx.titles() == [f"nanocell: run {run_id} engine stale",
                           f"nanocell: run {run_id} engine running again"]
    assert "nanocell resume" in rx.messages[0]["message"]


def test_notify_test_command_delivers_and_names_a_bad_file(tmp_path, capsys):
    notify = tmp_path / "notify.yaml"
    with Receiver() as rx:
        notify.write_text(f"urls: ['{rx.url}']\n")
        assert main(["notify", "test", "--notify", str(notify)]) == 0
    assert rx.titles() == ["nanocell: test notification"]
    notify.write_text("urls: []\n")
    assert main(["notify", "test", "--notify", str(notify)]) == 2
    assert "notify.yaml:1: urls: a list of at least one apprise URL" in capsys.readouterr().err
