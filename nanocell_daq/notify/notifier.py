"""The notifier: a bounded queue of messages, a sender thread, per-target retries with back-off."""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from nanocell_daq.errors import UserError

log = logging.getLogger("nanocell_daq.notify")

RETRY_AFTER_S = (2.0, 10.0, 60.0, 300.0)
"""Waits before the 2nd, 3rd... attempt of a message to a target that failed; then it is dropped (logged)."""

MAX_PENDING = 200
"""Messages waiting at most; beyond, the oldest is dropped (logged): a dead target cannot grow memory."""

def describe_url(url: str) -> str:
    """A URL as it may be logged: its scheme and host, never a password or token."""
    match = re.match(r"^([A-Za-z0-9+_-]+)://(?:[^@/]*@)?([^/:?]*)", url)
    return f"{match[1]}://{match[2]}" if match else "<not a URL>"


def _target(url: str, where: str) -> object:
    # apprise loads its plugins when it first parses a URL; one imports the deprecated ``imghdr`` on 3.11
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import apprise

        target = apprise.Apprise()
        known = target.add(url)
    if not known:
        raise UserError(f"{where}: notify: {describe_url(url)} is not a notification URL apprise knows "
                        f"(see https://github.com/caronc/apprise/wiki)")
    return target


def _send(target: object, title: str, body: str) -> bool:
    try:
        return bool(target.notify(title=title, body=body))  # type: ignore[attr-defined]
    except Exception as exc:  # noqa: BLE001 - a notifier's failure is logged, never raised into a run
        log.warning("notification raised %s: %s", type(exc).__name__, exc)
        return False


@dataclass
class _Pending:
    kind: str
    title: str
    body: str
    target: int
    attempt: int = 0
    due: float = field(default_factory=time.monotonic)


class Notifier:
    """Sends ``(kind, title, body)`` messages to every URL from a background thread.

    ``notify`` never blocks on the network and never raises. A target that fails (apprise returns False or
    raises) is retried after ``retry_after_s`` (each wait in turn), then the message is dropped for that
    target; each failure and drop is logged (``on_log(level, message)`` and the ``nanocell_daq.notify``
    logger) without the URL's secrets. ``kinds``: only these kinds are sent (None: all).
    """

    def __init__(self, urls: Sequence[str], *, where: str = "notify", kinds: Sequence[str] | None = None,
                 retry_after_s: Sequence[float] = RETRY_AFTER_S, max_pending: int = MAX_PENDING,
                 on_log: Callable[[str, str], None] | None = None) -> None:
        self.urls = list(dict.fromkeys(urls))
        self._targets = [_target(url, where) for url in self.urls]
        self.kinds = None if kinds is None else set(kinds)
        self.retry_after_s = tuple(retry_after_s)
        self.max_pending = max_pending
        self.on_log = on_log
        self.sent: list[tuple[str, str]] = []
        """(kind, target as describe_url) of every delivered message."""
        self.dropped: list[tuple[str, str]] = []
        self._pending: deque[_Pending] = deque()
        self._cond = threading.Condition()
        self._closing = False
        self._inflight = 0
        self._thread: threading.Thread | None = None

    def __bool__(self) -> bool:
        return bool(self._targets)

    def _log(self, level: str, message: str) -> None:
        log.log(logging.WARNING if level == "warning" else logging.INFO, message)
        if self.on_log is not None:
            with contextlib.suppress(Exception):
                self.on_log(level, message)

    def notify(self, kind: str, title: str, body: str = "") -> None:
        """Queue a message for every target (returns at once)."""
        if not self._targets or (self.kinds is not None and kind not in self.kinds):
            return
        with self._cond:
            if self._closing:
                return
            for i in range(len(self._targets)):
                if len(self._pending) >= self.max_pending:
                    old = self._pending.popleft()
                    self._drop(old, "too many notifications waiting")
                self._pending.append(_Pending(kind, title, body or title, i))
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="nanocell-notify", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def _drop(self, item: _Pending, why: str) -> None:
        shown = describe_url(self.urls[item.target])
        self.dropped.append((item.kind, shown))
        self._log("warning", f"notification {item.title!r} to {shown} dropped: {why}")

    def _next(self) -> _Pending | None:
        """The first due message (None when closing and nothing is due); waits until one is due."""
        with self._cond:
            while True:
                now = time.monotonic()
                due = [p for p in self._pending if p.due <= now]
                if due:
                    self._pending.remove(due[0])
                    self._inflight += 1
                    return due[0]
                if self._closing and not self._pending:
                    return None
                wait = min((p.due for p in self._pending), default=now + 3600) - now
                if self._closing and wait > 0:
                    return None  # only retries later than close() allows are left
                self._cond.wait(timeout=max(wait, 0.01))

    def _loop(self) -> None:
        while True:
            item = self._next()
            if item is None:
                return
            try:
                self._attempt(item)
            finally:
                with self._cond:
                    self._inflight -= 1

    def _attempt(self, item: _Pending) -> None:
        shown = describe_url(self.urls[item.target])
        if _send(self._targets[item.target], item.title, item.body):
            self.sent.append((item.kind, shown))
            return
        item.attempt += 1
        if item.attempt > len(self.retry_after_s):
            self._drop(item, f"failed {item.attempt} times")
            return
        wait = self.retry_after_s[item.attempt - 1]
        self._log("warning", f"notification {item.title!r} to {shown} failed; retrying in {wait:g} s")
        with self._cond:
            item.due = time.monotonic() + wait
            self._pending.append(item)

    def flush(self, timeout_s: float = 15.0) -> bool:
        """Wait until nothing is waiting (sent or dropped) or ``timeout_s``; True if nothing is left."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            with self._cond:
                if not self._pending and not self._inflight:
                    return True
            time.sleep(0.02)
        return False

    def close(self, timeout_s: float = 15.0) -> None:
        """Send what is due within ``timeout_s``; retries scheduled later are dropped (logged)."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout_s)
        with self._cond:
            for item in list(self._pending):
                self._drop(item, "still failing when the process ended")
            self._pending.clear()


def send_now(urls: Sequence[str], title: str, body: str, attempts: int = 2) -> list[str]:
    """Send one message synchronously (for a process about to exit: the supervisor); returns the targets
    that did not take it. Never raises."""
    failed = []
    for url in urls:
        try:
            target = _target(url, "notify")
        except UserError:
            failed.append(describe_url(url))
            continue
        if not any(_send(target, title, body) for _ in range(max(attempts, 1))):
            failed.append(describe_url(url))
    return failed
