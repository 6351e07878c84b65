"""Notifications are really delivered (apprise json:// to a local HTTP receiver); a failing target is
retried a bounded number of times, logged, and never blocks or raises into the caller."""

from __future__ import annotations

import time

import pytest

from nanocell_daq.errors import UserError
from nanocell_daq.notify import Notifier, load_notify_file, notifier_for, run_messages
from tests.notify.receiver import Receiver, dead_url

FAST = (0.05, 0.05)


def test_message_reaches_the_receiver_while_a_dead_target_is_retried_then_dropped():
    logged: list[tuple[str, str]] = []
    dead = dead_url()
    with Receiver() as rx:
        notifier = Notifier([dead, rx.url], retry_after_s=FAST, on_log=lambda lv, m: logged.append((lv, m)))
        t0 = time.monotonic()
        notifier.notify("run_failed", "nanocell: run 3 failed", "run 3 failed: E above the window")
        assert time.monotonic() - t0 < 1.0  # queued, not sent on the caller's thread
        assert notifier.flush(20)
        notifier.close()
    assert rx.titles() == ["nanocell: run 3 failed"]
    assert rx.messages[0]["message"] == "run 3 failed: E above the window"
    assert notifier.dropped == [("run_failed", "json://127.0.0.1")]
    retries = [m for lv, m in logged if "retrying" in m]
    assert len(retries) == 2 and all(lv == "warning" for lv, m in logged)
    assert any("dropped: failed 3 times" in m for _, m in logged)


def test_a_target_that_fails_first_gets_the_message_on_a_retry():
    with Receiver(fail_first=2) as rx:
        notifier = Notifier([rx.url], retry_after_s=(0.05, 0.05, 0.05))
        notifier.notify("queue_empty", "nanocell: queue empty", "3 entries ran")
        assert notifier.flush(20)
        notifier.close()
    assert rx.requests == 3 and rx.titles() == ["nanocell: queue empty"]
    assert notifier.sent == [("queue_empty", "json://127.0.0.1")] and notifier.dropped == []


def test_kinds_filter_and_bounded_backlog():
    notifier = Notifier([dead_url()], kinds=["run_failed"], retry_after_s=(60.0,), max_pending=3)
    notifier.notify("run_finished", "ignored")
    for i in range(5):
        notifier.notify("run_failed", f"failed {i}")
    assert notifier.flush(0.3) is False  # retries are scheduled a minute later
    notifier.close(0.5)
    assert len(notifier.dropped) == 5  # 2 pushed out of the backlog, 3 dropped at close
    assert notifier.sent == []


def test_passwords_are_not_logged():
    logged: list[str] = []
    notifier = Notifier(["json://user:s3cret@127.0.0.1:9/x"], retry_after_s=(),
                        on_log=lambda lv, m: logged.append(m))
    notifier.notify("run_failed", "t")
    notifier.close(20)
    assert logged and not any("s3cret" in m for m in logged)


def test_unknown_url_and_bad_notify_file_are_one_line_errors(tmp_path):
    with pytest.raises(UserError, match=r"nope://host is not a notification URL apprise knows"):
        Notifier(["nope://host/x"])
    bad = tmp_path / "notify.yaml"
    bad.write_text("urls: [json://127.0.0.1:9/x]\non: [run_failed, sometimes]\n")
    with pytest.raises(UserError, match=r"notify.yaml:2: on: unknown kind 'sometimes'"):
        load_notify_file(bad)
    bad.write_text("url: x\n")
    with pytest.raises(UserError, match=r"notify.yaml:1: url: unknown field"):
        load_notify_file(bad)
    assert notifier_for(None, None) is None


class _Outcome:
    def __init__(self, error: BaseException | None) -> None:
        self.error = error
        self.item = type("Item", (), {"label": "charge 1"})()


class _Result:
    def __init__(self, status: str, reason: str | None, errors: list[BaseException | None]) -> None:
        self.run_id, self.status, self.reason = 7, status, reason
        self.outcomes = [_Outcome(e) for e in errors]


def test_run_messages_name_limit_trips_and_unsafe_ends():
    from nanocell_daq.station.limits import LimitError

    kinds = [k for k, _, _ in run_messages(_Result("completed", None, [None]))]
    assert kinds == ["run_finished"]
    trip = _Result("failed", "step 2 failed; not verified safe: smu output reads on",
                   [LimitError("E = 4.2 V is above the station window")])
    messages = run_messages(trip, "bench", "nw2")
    assert [k for k, _, _ in messages] == ["run_failed", "limit_tripped", "unsafe_end"]
    assert "device nw2" in messages[1][2] and "4.2 V" in messages[1][2]
