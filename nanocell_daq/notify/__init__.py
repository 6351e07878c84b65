"""Notifications through apprise (email, Slack, Teams, ntfy, webhooks... by URL), never on the acquisition
path: a message is queued and sent by a background thread; a target that fails is logged and retried
later, a bounded number of times, and never disturbs a run.

The URLs come from a notify file (``--notify FILE``: ``urls: [...]``) and/or the station file's
``notify: {urls: [...]}``.
"""

from nanocell_daq.notify.events import KINDS, run_messages
from nanocell_daq.notify.notifier import Notifier, describe_url, send_now
from nanocell_daq.notify.settings import load_notify_file, notifier_for

__all__ = [
    "KINDS",
    "Notifier",
    "describe_url",
    "load_notify_file",
    "notifier_for",
    "run_messages",
    "send_now",
]
