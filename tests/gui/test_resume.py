"""Resuming a dead run from the GUI, and the progress bar of finished runs (Qt-free model, then widgets)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

import pytest
from sqlalchemy import update

from nanocell_daq.engine.lease import EngineLease, release_dead_holder
from nanocell_daq.errors import UserError
from nanocell_daq.storage import Progress
from nanocell_daq.storage.leases import STALE_AFTER_S
from nanocell_daq.storage.schema import Lease
from nanocell_daq.viewmodels import RunControlModel
from nanocell_daq.viewmodels.run_control import is_resumable
from nanocell_daq.viewmodels.run_progress import progress_view


class FakeProcess:
    """Stands in for the launched engine: ``returncode`` None while "running"."""

    pid = 4242

    def __init__(self) -> None:
        self.returncode: int | None = None

    def poll(self) -> int | None:
        return self.returncode


class FakeLauncher:
    """Records what would have been launched instead of starting an engine."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], dict[str, object]]] = []
        self.process = FakeProcess()

    def __call__(self, cmd: list[str], **kwargs: object) -> FakeProcess:
        self.calls.append((cmd, kwargs))
        refusal = b"error: run 1 is in use by run 1 (pid 4242 on lab, heartbeat 0.3 s ago)\n"
        kwargs["stdout"].write(refusal)  # type: ignore[union-attr]
        return self.process


def _progress(fraction: float) -> Progress:
    return Progress(1, "galvanostatic #3", fraction, 120.0, dt.datetime.now(dt.UTC))


# -- Qt-free model ------------------------------------------------------------------------------------
def test_only_interrupted_aborted_or_dead_running_runs_with_a_free_lease_are_resumable() -> None:
    assert is_resumable("interrupted", lease_free=True) and is_resumable("aborted", lease_free=True)
    assert is_resumable("running", lease_free=True)  # marked running, its engine dead
    assert not any(is_resumable(s, lease_free=False) for s in ("running", "interrupted", "aborted"))
    assert not any(is_resumable(s, lease_free=True) for s in ("completed", "failed", ""))


def _engine_of(store, run_id: int) -> EngineLease:  # type: ignore[no-untyped-def]
    """A live engine (this process) holding ``run_id``'s lease, heartbeat fresh."""
    lease = EngineLease(store, f"station:gui-test-{run_id}")
    lease.acquire(run_id)
    lease.stop_beating()  # the test plays its heartbeat (and its silence)
    return lease


def _silent_for(store, run_id: int, seconds: float) -> None:  # type: ignore[no-untyped-def]
    when = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=seconds)
    with store._engine.begin() as conn:
        conn.execute(update(Lease).where(Lease.key == f"run:{run_id}").values(heartbeat=when))


def test_resume_command_names_the_run_database_and_optional_station(store, tmp_path, sim_station) -> None:
    control = RunControlModel(store, tmp_path / "runs.db")
    db = str(tmp_path / "runs.db")
    expected = [sys.executable, "-m", "nanocell_daq", "resume", "7", "--db", db]
    assert control.build_resume_command(7) == expected
    assert control.build_resume_command(7, sim_station)[-2:] == ["--station", str(sim_station)]
    with pytest.raises(UserError, match="no database"):
        RunControlModel(None, None).build_resume_command(7)


def test_resume_launches_detached_follows_the_run_and_reports_a_refusal(store, tmp_path, sim_station) -> None:
    run = store.create_run("killed")
    store.finish_run(run, "interrupted", "engine killed")
    control = RunControlModel(store, tmp_path / "runs.db", log_dir=tmp_path / "logs")
    launcher = control.launcher = FakeLauncher()
    attached: list[int | None] = []
    ended: list[tuple[int, str]] = []
    control.attached.connect(attached.append)
    control.process_ended.connect(lambda code, tail: ended.append((code, tail)))

    control.resume_run(run, sim_station)
    (cmd, kwargs), = launcher.calls
    assert cmd[-6:] == ["resume", str(run), "--db", str(tmp_path / "runs.db"), "--station", str(sim_station)]
    assert kwargs["start_new_session"] is True and kwargs["stdin"] is subprocess.DEVNULL
    assert attached == [run] and control.run_id == run
    with pytest.raises(UserError, match="still running"):
        control.resume_run(run)
    control.check()
    assert ended == []  # still running
    launcher.process.returncode = 2
    control.check()
    assert ended and ended[0][0] == 2 and "is in use by run 1" in ended[0][1]
    assert control.ended_kind == "resume" and control.ran_for_s is not None and control.ran_for_s < 30
    assert control.process is None and control.log_path.name.startswith("resume-")


def test_resume_refuses_completed_live_or_missing_station_runs(store, tmp_path, monkeypatch) -> None:
    control = RunControlModel(store, tmp_path / "runs.db", log_dir=tmp_path / "logs")
    launcher = control.launcher = FakeLauncher()
    done = store.create_run("done")
    store.finish_run(done, "completed")
    with pytest.raises(UserError, match=r"cannot be resumed \(completed\)"):
        control.resume_run(done)
    live = store.create_run("live")
    engine = _engine_of(store, live)
    store.set_progress(live, "rest", 0.5)
    beating = rf"its engine, pid {os.getpid()} on .*, is running; it beat 00:00:0\d"
    with pytest.raises(UserError, match=beating):
        control.resume_run(live)
    with pytest.raises(UserError, match=r"nope\.yaml: station file not found"):
        control.resume_run(live, tmp_path / "nope.yaml")
    _silent_for(store, live, STALE_AFTER_S + 1)  # stopped, maybe only for a while: not from the GUI
    with pytest.raises(UserError, match=r"is stale"):
        control.resume_run(live)
    assert launcher.calls == []
    release_dead_holder(store, live, engine.pid, engine.host)  # a supervisor saw it die
    control.resume_run(live)
    assert len(launcher.calls) == 1


def test_progress_bar_text_per_status() -> None:
    assert progress_view("completed", None, None) == progress_view("completed", None, _progress(0.97))
    assert progress_view("completed", None, None).fraction == 1.0
    assert progress_view("completed", None, None).text == "completed 100%"
    failed = progress_view("failed", "smu: compliance trip\ntraceback...", None)
    assert failed.text == "failed — smu: compliance trip" and failed.fraction == 0.0
    aborted = progress_view("aborted", "abort requested by gui", _progress(0.42))
    assert aborted.text == "aborted at 42% — abort requested by gui" and aborted.fraction == 0.42
    assert progress_view("interrupted", None, None).text == "interrupted"
    assert len(progress_view("failed", "x" * 500, None).text) < 110
    assert progress_view("running", None, None).text == "waiting for progress…"
    assert progress_view("running", None, _progress(0.5)).text == "50%  ·  ETA 00:02:00"
    # a run marked running whose engine is paused, silent or gone: never shown as running
    assert progress_view("paused", None, _progress(0.5)).text.startswith("paused at 50% — every output off")
    stale = progress_view("stale", None, _progress(0.5)).text
    assert stale == "stale at 50% — its engine is silent; wait, or abort it"
    dead = progress_view("dead", None, _progress(0.25))
    assert (dead.text, dead.fraction) == ("dead at 25% — its engine is gone; resume the run", 0.25)


# -- widgets ------------------------------------------------------------------------------------------
@pytest.fixture
def make_window(qt_ok, qtbot, store, tmp_path):
    from nanocell_daq.gui.app import make_app
    from nanocell_daq.gui.main_window import MainWindow

    make_app()
    windows = []

    def make(station: str | None = None):
        win = MainWindow(store, str(tmp_path / "runs.db"), station=station, interval_ms=50)
        win.control.log_dir = tmp_path / "logs"
        qtbot.addWidget(win)
        windows.append(win)
        return win

    yield make
    for win in windows:
        win.close()


def _show(qtbot, win, run_id: int) -> None:
    win.control.attach(run_id)
    win.poller.flush()
    qtbot.wait(20)


def test_resume_run_button_is_enabled_only_for_resumable_runs(qtbot, store, make_window) -> None:
    runs = {}
    for status in ("completed", "failed", "aborted", "interrupted"):
        runs[status] = store.create_run(status)
        store.finish_run(runs[status], status, None if status == "completed" else f"{status} reason")
    runs["running"] = store.create_run("running")
    engine = _engine_of(store, runs["running"])
    store.set_progress(runs["running"], "rest", 0.1)
    win = make_window()
    button = win.run_panel.resume_run_button
    enabled = {}
    for status, run_id in runs.items():
        _show(qtbot, win, run_id)
        assert win.live.status == status
        enabled[status] = button.isEnabled()
    resumable = {"completed": False, "failed": False, "aborted": True, "interrupted": True, "running": False}
    assert enabled == resumable
    # the running run's engine falls silent: shown stale, still not resumable (it may wake up)
    _silent_for(store, runs["running"], STALE_AFTER_S + 1)
    _show(qtbot, win, runs["running"])
    label = win.run_panel.run_label.text()
    assert ">stale<" in label and "engine not responding" in label and not button.isEnabled()
    assert "stale" in win.run_panel.progress.text()
    # its process is gone (the supervisor freed its lease): dead, and now it may be resumed
    release_dead_holder(store, runs["running"], engine.pid, engine.host)
    _show(qtbot, win, runs["running"])
    assert ">dead<" in win.run_panel.run_label.text() and button.isEnabled()
    assert win.run_panel.abort_button.isEnabled()  # still marked running: abort stays offered
    win.browser.refresh()  # the run list says so too
    assert [r.cells[1] for r in win.browser.rows if r.summary.id == runs["running"]] == ["dead"]


def test_resume_run_button_launches_nanocell_resume_on_the_loaded_station(
    qtbot, store, make_window, sim_station, monkeypatch
) -> None:
    from PySide6.QtWidgets import QMessageBox

    run = store.create_run("aborted one")
    store.finish_run(run, "aborted", "abort requested")
    win = make_window(str(sim_station))
    launcher = win.control.launcher = FakeLauncher()
    _show(qtbot, win, run)
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    win.run_panel.resume_run_button.click()
    (cmd, kwargs), = launcher.calls
    assert cmd[-5:] == [str(run), "--db", win.db_path, "--station", str(sim_station)] and cmd[-6] == "resume"
    assert kwargs["start_new_session"] is True
    assert not win.run_panel.resume_run_button.isEnabled()  # one engine at a time
    assert "resume" in win.run_panel.log_view.toPlainText()


def test_a_refused_resume_shows_the_engines_message(qtbot, store, make_window, monkeypatch) -> None:
    from PySide6.QtWidgets import QMessageBox

    run = store.create_run("no station stored")  # `nanocell resume` needs --station or a stored snapshot
    store.finish_run(run, "interrupted", "killed")
    win = make_window()
    _show(qtbot, win, run)
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    win.run_panel.resume_run_button.click()
    assert win.control.process is not None
    qtbot.waitUntil(lambda: win.control.process is None, timeout=60_000)  # the 1 s tick reports the exit
    box = win.run_panel.error_box
    assert box is not None and box.isVisible()
    assert "exit code 2" in box.text() and "no station snapshot stored" in box.text(), box.text()
    assert "no station snapshot stored" in win.run_panel.log_view.toPlainText()
    assert win.run_panel.resume_run_button.isEnabled()  # still interrupted: may be retried with a station


def test_finished_runs_without_progress_rows_show_their_end_in_the_progress_bar(qtbot, store, make_window):
    done = store.create_run("short")
    store.finish_run(done, "completed")
    failed = store.create_run("broken")
    store.finish_run(failed, "failed", "smu: no reply to *IDN?")
    win = make_window()
    bar = win.run_panel.progress
    _show(qtbot, win, done)
    assert bar.value() == bar.maximum() and bar.text() == "completed 100%"
    _show(qtbot, win, failed)
    assert bar.text() == "failed — smu: no reply to *IDN?" and bar.value() == 0
