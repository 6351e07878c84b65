"""Provenance: what produced a run's data, recorded in the store at each session and carried by every export.

At a run's start (and at each resume, appended, never overwritten) the engine stores :func:`session`: the
software (nanocell-daq version; for a source checkout the git commit and whether it had changes; Python and
key library versions), the host, process and command line, the operator, the station file (path, full text,
the chosen ``--device``), the protocol (name, path, full text as read) and its ``--set`` overrides as given.

Exports read :func:`of_run` (a JSON-able dict: the first session, every session, the analysis parameters and
who exported it); :func:`attributes` flattens it to text attributes (HDF5, NeXus, xarray/NetCDF) and
:func:`lines` to a few human lines (``nanocell show``, the report header: :func:`report_lines`). A run
recorded before provenance existed (schema 0004 and older) gives "unknown" fields, not errors.

No Qt, no pandas: the engine imports this module at every run.
"""

from __future__ import annotations

import copy
import functools
import importlib.metadata
import json
import os
import platform
import shlex
import socket
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nanocell_daq import __version__

UNKNOWN = "unknown"
"""What an export says for a field the run did not record (runs older than schema 0005)."""

NOT_A_CHECKOUT = "none (not a source checkout)"
"""The git commit of a session run from an installed package."""

LIBRARIES = ("numpy", "scipy", "pandas", "SQLAlchemy", "alembic", "pydantic", "PyVISA", "PyVISA-py",
             "PyMeasure", "h5py")
"""Libraries whose versions are recorded with each session (those installed)."""

GIT_TIMEOUT_S = 2.0
"""Longest wait for one git command (a hung or slow git never holds a run)."""

ANALYSIS_KIND = "run_analysis"
"""The derived-result kind ``nanocell analyze`` stores (``analysis.run_analysis.KIND_SUMMARY``)."""


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0", "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, env=env,
                          stdin=subprocess.DEVNULL, timeout=GIT_TIMEOUT_S, check=False)


@functools.lru_cache(maxsize=1)
def source_revision() -> tuple[str | None, bool | None]:
    """(commit, has local changes) of the git checkout nanocell_daq runs from; (None, None) for an installed
    package, without git, or when git fails or takes longer than ``GIT_TIMEOUT_S`` (quietly)."""
    root = Path(__file__).resolve().parent.parent
    if not (root / ".git").exists():  # site-packages: no git call at all
        return None, None
    try:
        head = _git(root, "rev-parse", "--verify", "HEAD")
        if head.returncode != 0 or not head.stdout.strip():
            return None, None
        status = _git(root, "status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError, ValueError):
        return None, None
    dirty = bool(status.stdout.strip()) if status.returncode == 0 else None
    return head.stdout.strip(), dirty


@functools.lru_cache(maxsize=1)
def _software() -> dict[str, Any]:
    commit, dirty = source_revision()
    libraries = {}
    for name in LIBRARIES:
        try:
            libraries[name] = importlib.metadata.version(name)
        except (importlib.metadata.PackageNotFoundError, ValueError):
            continue
    return {
        "software_version": __version__,
        "git_commit": commit,
        "git_dirty": dirty,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "libraries": libraries,
    }


def software() -> dict[str, Any]:
    """This process's software: version, git commit and dirty flag (None outside a checkout), Python and
    library versions (looked up once per process)."""
    return copy.deepcopy(_software())


def _command() -> str:
    argv = list(sys.argv) or ["python"]
    argv[0] = Path(argv[0]).name
    if argv[0] == "__main__.py":
        argv[0] = "nanocell"
    return " ".join(shlex.quote(a) for a in argv)


def _file_text(path: str | None) -> tuple[str | None, str | None]:
    """(absolute path, text) of a readable UTF-8 file, else (None, None)."""
    if not path:
        return None, None
    p = Path(path)
    try:
        if p.is_file():
            return str(p.resolve()), p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        pass
    return None, None


def session(plan: Any, operator: str | None) -> dict[str, Any]:
    """The provenance record of one run session (``Store.create_run(provenance=)`` /
    ``Store.add_provenance``) from an engine ``Plan``: its protocol (``name``, ``path``, ``text``,
    ``overrides``) and station view (``path``, ``config``, ``raw``).

    The station text is the file as read now; a station rebuilt from a run's stored snapshot (a resume
    without ``--station``) has no file: its text is the snapshot as YAML and its path None."""
    proto, view = plan.protocol, plan.station
    station_path, station_text = _file_text(getattr(view, "path", None))
    if station_text is None:
        import yaml

        station_text = yaml.safe_dump(view.raw, sort_keys=False, allow_unicode=True)
    protocol_path, _ = _file_text(getattr(proto, "path", None))
    overrides = getattr(proto, "overrides", None) or {}
    return {
        **software(),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "command": _command(),
        "operator": operator,
        "station_path": station_path,
        "station_text": station_text,
        "device": getattr(view.config, "device_name", None),
        "protocol_name": str(proto.name),
        "protocol_path": protocol_path,
        "protocol_text": str(proto.text or ""),
        "overrides": {str(k): v if isinstance(v, (str, int, float, bool)) else str(v)
                      for k, v in overrides.items()},
    }


# --- reading: what exports carry ---------------------------------------------------------------------------
def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _session_dict(p: Any) -> dict[str, Any]:
    return {
        "session": p.session,
        "kind": p.kind,
        "recorded": _iso(p.recorded),
        "software_version": p.software_version,
        "git_commit": p.git_commit or NOT_A_CHECKOUT,
        "git_dirty": UNKNOWN if p.git_dirty is None else bool(p.git_dirty),
        "python": p.python or UNKNOWN,
        "libraries": dict(p.libraries or {}),
        "host": p.host or UNKNOWN,
        "pid": p.pid,
        "command": p.command or UNKNOWN,
        "operator": p.operator or UNKNOWN,
        "station_path": p.station_path or "none (the run's stored station snapshot)",
        "station_text": p.station_text or UNKNOWN,
        "device": p.device or "none",
        "protocol_name": p.protocol_name or UNKNOWN,
        "protocol_path": p.protocol_path or "none (the run's stored protocol)",
        "protocol_text": p.protocol_text or UNKNOWN,
        "overrides": dict(p.overrides or {}),
    }


def stored_analyses(store: Any, run_id: int) -> list[dict[str, Any]]:
    """The analyses ``nanocell analyze`` stored for the run: parameters (with the analysis version),
    software version and time, oldest first."""
    return [
        {"parameters": d.params, "analysis_version": (d.params or {}).get("version", UNKNOWN),
         "software_version": d.software_version, "created": _iso(d.created)}
        for d in store.derived(run_id, ANALYSIS_KIND)
    ]


def of_run(store: Any, run_id: int | str, analysis: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The provenance an export of run ``run_id`` carries (JSON-able): ``software``, ``host``,
    ``operator``, ``station`` and ``protocol`` of the run's first session (with the ``--set`` overrides
    and the protocol text as run), every ``sessions`` entry (the start, then each resume), the
    ``analysis`` (``analysis``: the parameters this export used; default: what ``nanocell analyze``
    stored) and ``exported_by`` (this software and host). "unknown" where the run recorded nothing."""
    info = store.run(run_id)
    sessions = [_session_dict(p) for p in store.provenance(info.id)]
    # the run's own start; a run older than schema 0005 that was resumed since has only resume sessions
    first = sessions[0] if sessions and sessions[0]["kind"] == "start" else None

    def pick(key: str, fallback: Any = UNKNOWN) -> Any:
        return first[key] if first is not None else fallback

    now = software()
    return {
        "run": {"id": info.id, "uuid": info.uuid},
        "software": {
            "name": "nanocell-daq",
            "version": pick("software_version", info.software_version or UNKNOWN),
            "git_commit": pick("git_commit"),
            "git_dirty": pick("git_dirty"),
            "python": pick("python"),
            "libraries": pick("libraries", {}),
        },
        "host": pick("host"),
        "operator": info.operator or pick("operator"),
        "command": pick("command"),
        "station": {"path": pick("station_path"), "device": pick("device"), "text": pick("station_text")},
        "protocol": {
            "name": info.protocol_name,
            "path": pick("protocol_path"),
            "text": pick("protocol_text"),
            "overrides": pick("overrides", {}),
            "text_as_run": info.protocol_text or UNKNOWN,
        },
        "sessions": sessions,
        "analysis": dict(analysis) if analysis is not None else {"stored": stored_analyses(store, info.id)},
        "exported_by": {
            "software_version": now["software_version"],
            "git_commit": now["git_commit"] or NOT_A_CHECKOUT,
            "host": socket.gethostname(),
        },
    }


def summary(sessions: list[Any]) -> dict[str, Any]:
    """A short provenance of one run for listings (``nanocell runs --json``) from its sessions (read
    without texts): the start's software, git commit, host, operator, station, device, protocol file and
    ``--set`` overrides, and how many sessions (the start and each resume); "unknown" for old runs."""
    keys = ("software_version", "git_commit", "git_dirty", "host", "operator", "station_path", "device",
            "protocol_path")
    start = next((s for s in sessions if s.kind == "start"), None)
    if start is None:
        return {**dict.fromkeys(keys, UNKNOWN), "overrides": {}, "sessions": len(sessions)}
    full = _session_dict(start)
    return {**{k: full[k] for k in keys}, "overrides": full["overrides"], "sessions": len(sessions)}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)


def attributes(prov: Mapping[str, Any], prefix: str = "provenance_") -> dict[str, str]:
    """``of_run`` flattened to text attributes (HDF5, NeXus, NetCDF): one per field, JSON for the nested
    ones, and ``<prefix>json`` with the whole record."""
    sw, station, protocol = prov["software"], prov["station"], prov["protocol"]
    flat = {
        "software": f"nanocell-daq {sw['version']}",
        "software_version": sw["version"],
        "git_commit": sw["git_commit"],
        "git_dirty": sw["git_dirty"],
        "python": sw["python"],
        "libraries": sw["libraries"],
        "host": prov["host"],
        "operator": prov["operator"],
        "command": prov["command"],
        "station_path": station["path"],
        "device": station["device"],
        "station_text": station["text"],
        "protocol_name": protocol["name"],
        "protocol_path": protocol["path"],
        "protocol_text": protocol["text"],
        "protocol_overrides": protocol["overrides"],
        "sessions": len(prov["sessions"]),
        "analysis": prov["analysis"],
        "exported_by": prov["exported_by"],
        "json": prov,
    }
    return {f"{prefix}{k}": _text(v) for k, v in flat.items()}


def _overrides_text(overrides: Mapping[str, Any]) -> str:
    return " ".join(f"--set {k}={v}" for k, v in overrides.items()) or "no --set"


def lines(prov: Mapping[str, Any]) -> list[str]:
    """A few short lines: software and host, operator, station, protocol with its overrides, each resume,
    the analysis parameters."""
    sw, station, protocol = prov["software"], prov["station"], prov["protocol"]
    commit = sw["git_commit"]
    if commit not in (UNKNOWN, NOT_A_CHECKOUT):
        commit = f"git {commit[:12]}" + (", with local changes" if sw["git_dirty"] is True else "")
    out = [
        f"software: nanocell-daq {sw['version']} ({commit}); {sw['python']}; host {prov['host']}",
        f"operator: {prov['operator']}",
        f"station: {station['path']} (device {station['device']})",
        f"protocol: {protocol['name']} ({protocol['path']}); {_overrides_text(protocol['overrides'])}",
    ]
    for s in prov["sessions"][1:]:
        out.append(f"{s['kind']} {s['session']}: {s['recorded'][:19]} UTC by {s['operator']} on {s['host']} "
                   f"(nanocell-daq {s['software_version']}, station {s['station_path']})")
    analysis = prov.get("analysis") or {}
    params = analysis.get("parameters")
    if params is None and analysis.get("stored"):
        params = analysis["stored"][-1]["parameters"]
    if params:
        shown = ", ".join(f"{k}={v}" for k, v in params.items() if k != "version")
        out.append(f"analysis: version {params.get('version', UNKNOWN)}; {shown}")
    return out


def report_lines(store: Any, run_id: int | str, analysis: Mapping[str, Any] | None = None) -> list[str]:
    """The provenance lines of a report header (:func:`lines` of :func:`of_run`); ``analysis``: the
    parameters the report was computed with (``{"parameters": AnalysisParams.key()}``)."""
    return lines(of_run(store, run_id, analysis))
