"""The GUI's poller reads a PostgreSQL run only when it has news (LISTEN/NOTIFY) or once a second for the
engine's heartbeat; an SQLite run at every tick, as before."""

from __future__ import annotations

import time

import pytest

from nanocell_daq.storage import Store
from tests.storage.postgres import server


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_poller_reads_on_news_and_not_while_the_run_is_quiet(qt_ok, qapp, tmp_path, backend) -> None:
    from nanocell_daq.gui.poller import RunPoller
    from nanocell_daq.viewmodels import LiveRunModel

    url = str(tmp_path / "runs.db") if backend == "sqlite" else server().fresh_url()
    with Store.open(url) as store:
        run = store.create_run("gui")
        step = store.start_step(run, 0, "charge")
        model = LiveRunModel(store, run)
        fetches: list[float] = []
        fetch = model.fetch
        model.fetch = lambda: (fetches.append(time.monotonic()), fetch())[1]  # type: ignore[method-assign]
        poller = RunPoller(model, lambda: None)
        try:
            poller.flush()
            if backend == "postgresql":
                assert poller._follower is not None and poller._follower.connected.wait(5.0)
                poller._follower.wait(0.3)  # what connecting announced
            poller.tick()  # collect what flush left in flight
            n = len(fetches)
            for _ in range(10):  # 0.5 s of a quiet run
                poller.tick()
                time.sleep(0.05)
                poller.tick()
            quiet = len(fetches) - n
            assert quiet == 0 if backend == "postgresql" else quiet >= 10
            with store.writer(flush_interval=0.01) as w:
                for k in range(20):
                    w.cycling_point(step, float(k), 3.7, 1e-12, 0.0)
            deadline = time.monotonic() + 10
            while model.n_points < 20 and time.monotonic() < deadline:
                poller.tick()
                time.sleep(0.02)
            assert model.n_points == 20
        finally:
            poller.stop()
