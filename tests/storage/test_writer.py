"""The store writer's promises: flush() returns once every earlier row is committed, counts are exact, and a
closed writer refuses new rows instead of dropping them."""

from __future__ import annotations

import pytest

from nanocell_daq.storage import Store, StoreWriteError


def test_flush_commits_everything_appended_before_it_and_counts_it(store: Store, run_step, db_url):
    run, step = run_step
    w = store.writer(flush_interval=60.0)  # the timer would not commit anything during this test
    for k in range(5):
        w.cycling_point(step, float(k), 3.0, 1e-12, 1e-12 * k)
    w.iv_point(step, 0.1, 1e-9, "up", "S-D")
    w.event(run, "info", "five points", step)
    w.flush(timeout=30)
    with Store.open(db_url, create=False) as reader:  # another connection sees them at once
        assert reader.cycling(run).t.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
        assert reader.iv(run).V.tolist() == [0.1]
        assert [e.message for e in reader.events(run)] == ["five points"]
    assert w.committed == {"cycling": 5, "iv": 1, "spectra": 0, "events": 1}
    w.cycling_point(step, 5.0, 3.0, 1e-12, 5e-12)
    w.flush(timeout=30)
    assert w.committed["cycling"] == 6
    w.close()


def test_a_closed_writer_refuses_every_kind_of_row(store: Store, run_step):
    run, step = run_step
    w = store.writer(flush_interval=0.05)
    w.close()
    for append in (
        lambda: w.cycling_point(step, 0.0, 3.0, 0.0, 0.0),
        lambda: w.iv_point(step, 0.0, 0.0, "up", "S-D"),
        lambda: w.spectrum(step, 0.0, 0.0, 0.0, 1.0, [1.0], 1),
        lambda: w.event(run, "info", "late"),
        w.flush,
    ):
        with pytest.raises(StoreWriteError, match="the store writer is closed"):
            append()
    w.close()  # closing twice is fine


def test_a_zero_or_negative_flush_interval_is_refused(store: Store):
    for bad in (0.0, -1.0):
        with pytest.raises(ValueError, match="flush_interval must be > 0 s"):
            store.writer(flush_interval=bad)


def test_each_cycling_block_records_its_time_span_for_sql_readers(store: Store, run_step):
    from nanocell_daq.storage.schema import CyclingBlock

    _, step = run_step
    with store.writer(flush_interval=60.0) as w:
        for k in range(4):
            w.cycling_point(step, 10.0 + k, 3.5 + 0.1 * k, 1e-12, 1e-12 * k)
    with store._engine.connect() as db:  # plain SQL, as a lab's own script would read it
        rows = db.exec_driver_sql(f"SELECT n, t_first_s, t_last_s FROM {CyclingBlock.__tablename__}").all()
    assert [tuple(r) for r in rows] == [(4, 10.0, 13.0)]
