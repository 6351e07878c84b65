"""Where notifications go: a notify file (``urls:``, optional ``on:``) and the station file's ``notify:``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from nanocell_daq import yaml_input
from nanocell_daq.errors import UserError
from nanocell_daq.notify.events import KINDS
from nanocell_daq.notify.notifier import Notifier


def load_notify_file(path: str | Path) -> tuple[list[str], list[str] | None]:
    """(urls, kinds or None) from a notify file::

        urls: ["ntfy://ntfy.sh/my-lab-bench", "mailto://user:pass@example.org"]
        on: [run_failed, run_interrupted, unsafe_end, limit_tripped, engine_stale, queue_empty]   # optional

    UserError naming the file, line and field for anything else."""
    path = Path(path)
    text = yaml_input.read_text(path, "notify")
    doc = yaml_input.load(text, path.name)
    if not isinstance(doc, dict):
        raise UserError(f"{path.name}:1: a notify file is a mapping with urls: [...] (optional on: [...])")
    for key in doc:
        if key not in ("urls", "on"):
            raise UserError(f"{path.name}:{yaml_input.line_of(doc, key) or 1}: {key}: unknown field "
                            f"(a notify file has urls: and on:)")
    urls = doc.get("urls")
    if not isinstance(urls, list) or not urls or not all(isinstance(u, str) and u.strip() for u in urls):
        raise UserError(f"{path.name}:{yaml_input.line_of(doc, 'urls') or 1}: urls: a list of at least one "
                        f"apprise URL (strings)")
    kinds = doc.get("on")
    if kinds is not None:
        bad = [k for k in kinds if k not in KINDS] if isinstance(kinds, list) else [kinds]
        if bad:
            raise UserError(f"{path.name}:{yaml_input.line_of(doc, 'on') or 1}: on: unknown kind "
                            f"{bad[0]!r} (known: {', '.join(KINDS)})")
    return [u.strip() for u in urls], None if kinds is None else list(kinds)


def notifier_for(notify_file: str | Path | None, station: Any = None,
                 on_log: Callable[[str, str], None] | None = None,
                 retry_after_s: Sequence[float] | None = None) -> Notifier | None:
    """The notifier of a command: URLs of ``notify_file`` and of ``station`` (a StationConfig with
    ``notify:``); None when neither names any. UserError for a URL apprise does not know."""
    urls: list[str] = []
    kinds = None
    where = "notify"
    if station is not None and getattr(station, "notify", None) is not None:
        urls += station.notify.urls
        where = "station notify.urls"
    if notify_file is not None:
        file_urls, kinds = load_notify_file(notify_file)
        urls += file_urls
        where = str(notify_file)
    if not urls:
        return None
    kw: dict[str, Any] = {} if retry_after_s is None else {"retry_after_s": retry_after_s}
    return Notifier(urls, where=where, kinds=kinds, on_log=on_log, **kw)
