"""The supervisor: a watchdog process that makes the station safe when its engine dies.

Why a sidecar and not a parent: ``nanocell run`` stays the process users, service managers and the GUI
start, signal (Ctrl-C pauses, SIGTERM aborts) and wait for; its exit code is the run's. Before opening any
instrument the engine starts :func:`main` (``python -c``) in its own session (a Ctrl-C or a
closed terminal does not reach it) with a pipe on its stdin, and writes one JSON header line (database,
station file content, engine pid) and later ``run N`` once the run exists. The supervisor holds no
instrument and no database connection while the engine lives; it blocks reading the pipe.

- ``clean`` on the pipe: the engine finished the run itself (its own end state is in the store): exit.
- End of file without ``clean`` (kill -9, a crash of the interpreter, ``os._exit``, power to the process
  lost) or ``crashed REASON`` (an exception escaped the engine): within a few seconds it connects to every
  instrument of the station, reads what is on *before* switching anything, then turns every source off
  (SMU output, potentiostat technique aborted and cell off, laser off, shutter closed), reads them back,
  opens the matrix only once every source reads back off, records an event naming what it found on and
  what it did, and marks the run ``interrupted`` with that reason if the store still has it running.

Opening a MethodSCRIPT potentiostat or a 2600B aborts a technique or TSP script a dead host left running
(its driver does so while identifying it, and says so in ``orphan_aborted``): that is reported as found on.
A 2600B script the engine started that had already stopped when the supervisor connected (at its own
cut-off, e.g. the short open-circuit read that opens every galvanostatic step) is reported as such
(``script_left_behind``), never as aborted.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from nanocell_daq.errors import UserError

SAFE_WITHIN_S = 5.0
"""The engine's death to a safe bench (wall s): what the supervisor is built and tested for."""

READY_TIMEOUT_S = 60.0
"""How long the engine waits for the supervisor to start before it refuses to run unsupervised."""

CRASH_GRACE_S = 3.0
"""After ``crashed``, how long the supervisor waits for the engine to exit before taking the instruments."""

_ENTRY = "import sys; from nanocell_daq.engine.supervisor import main; sys.exit(main())"
"""The supervisor's command (``python -c``; ``-m`` would run a second copy of this module). It says ``ready``
only once everything it needs to act is imported (about 2 s): the engine waits for that before opening any
instrument, so the supervisor's reaction never includes an import."""

SOURCE_ROLES = ("source_meter", "galvanostat", "potentiostat", "laser", "shutter")
"""Roles whose output may be live; one of them unreachable keeps the matrix as it is."""


# --- what the supervisor does with the store after the bench is safe --------------------------------------
def _release_lease(store: Any, run_id: int | None, pid: int) -> bool:
    """Free the leases the dead engine ``pid`` (on this host: the supervisor runs beside its engine) held for
    ``run_id``; leases another engine has taken over since are kept."""
    if run_id is None:
        return False
    import socket

    from nanocell_daq.engine.lease import release_dead_holder

    return release_dead_holder(store, int(run_id), pid, socket.gethostname())


def _record_recovered(store: Any, run_id: int | None, instruments: Any) -> list[str]:
    """Store what the instruments buffered for ``run_id`` after the engine died (samples the potentiostat
    driver drained from the technique it aborted, or the gap when there are none); lines for the event."""
    if run_id is None:
        return []
    from nanocell_daq.engine.recovery import record_recovered

    return record_recovered(store, int(run_id), instruments)


# --- engine side -----------------------------------------------------------------------------------------
class SupervisorError(UserError):
    """The supervisor could not be started (the engine refuses to run unsupervised)."""


class Supervisor:
    """The engine's handle on its supervisor process (see the module docstring)."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        self.run_started = False
        """The engine told the run id: from then on it may switch instruments on."""

    def _send(self, line: str) -> None:
        stdin = self.proc.stdin
        if stdin is None or stdin.closed:
            return
        try:
            stdin.write(line.encode() + b"\n")
            stdin.flush()
        except OSError:  # the supervisor died: nothing to tell (its own failure is in its log)
            pass

    def run_created(self, run_id: int) -> None:
        """Tell the supervisor which run to mark if the engine dies; SupervisorError if it is gone."""
        if self.proc.poll() is not None:
            raise SupervisorError(f"the run's supervisor exited (code {self.proc.returncode}): "
                                  f"refusing to run unsupervised")
        self._send(f"run {int(run_id)}")
        self.run_started = True

    def _close(self, last: str, wait_s: float) -> None:
        self._send(last)
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        try:
            self.proc.wait(wait_s)
        except subprocess.TimeoutExpired:
            pass

    def clean_exit(self) -> None:
        """The engine ended the run itself: the supervisor exits without touching anything (one still
        importing is ended: it holds no instrument and has nothing to do)."""
        self._close("clean", 0.5)
        if self.proc.poll() is None:
            with contextlib.suppress(OSError):
                self.proc.kill()
            self.proc.wait(5)

    def crashed(self, reason: str) -> None:
        """An exception escaped the engine: the supervisor makes the station safe once we have exited."""
        self._close("crashed " + " ".join(reason.split())[:500], 0.0)


def _store_target(store: Any) -> str:
    """What ``Store.open`` needs to reach ``store`` again (a path, or the URL with its password)."""
    loc = store.location
    if loc.path is not None:
        return str(loc.path)
    return str(loc.url.render_as_string(hide_password=False))


def start(
    store: Any, view: Any, run_id: int | None = None, notify_urls: list[str] | None = None
) -> Supervisor:
    """Start the supervisor of this engine for the station ``view`` and the run store ``store``; after acting
    on the engine's death it notifies ``notify_urls`` (apprise) of what it found and did."""
    import yaml

    header = {
        "db": _store_target(store),
        "station_yaml": yaml.safe_dump(view.raw, sort_keys=False),
        "station_path": str(view.path),
        "engine_pid": os.getpid(),
        "run_id": run_id,
        "notify": list(notify_urls or []),
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", _ENTRY],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        start_new_session=True,
        close_fds=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(json.dumps(header).encode() + b"\n")
    proc.stdin.flush()
    ready, _, _ = select.select([proc.stdout], [], [], READY_TIMEOUT_S)
    line = proc.stdout.readline().decode(errors="replace").strip() if ready else ""
    proc.stdout.close()
    if line != "ready":
        with contextlib.suppress(OSError):
            proc.kill()
        proc.wait(5)
        raise SupervisorError(f"the run's supervisor did not start (said {line!r}); nothing was switched on")
    return Supervisor(proc)


@contextlib.contextmanager
def supervised(store: Any, view: Any, run_id: int | None = None,
               notify_urls: list[str] | None = None) -> Iterator[Supervisor]:
    """Run the body under a supervisor; a normal exit tells it ``clean``, an exception ``crashed`` (once the
    run has started: before that the engine has switched nothing on)."""
    sup = start(store, view, run_id, notify_urls)
    try:
        yield sup
    except BaseException as exc:
        if sup.run_started:
            sup.crashed(f"{type(exc).__name__}: {exc}")
        else:  # e.g. an unreachable instrument while opening the station: nothing was switched on
            sup.clean_exit()
        raise
    sup.clean_exit()


# --- supervisor side -------------------------------------------------------------------------------------
def _say(message: str) -> None:
    with contextlib.suppress(OSError, ValueError):
        print(f"nanocell {message}", file=sys.stderr, flush=True)


def _wait_for_engine(stdin: Any) -> tuple[str, int | None]:
    """Block on the pipe: ("clean", run) or ("died", run) or ("crashed: reason", run)."""
    run_id: int | None = None
    while True:
        raw = stdin.readline()
        if not raw:
            return "died", run_id
        line = raw.decode(errors="replace").strip()
        if line.startswith("run "):
            with contextlib.suppress(ValueError):
                run_id = int(line[4:])
        elif line == "clean":
            return "clean", run_id
        elif line.startswith("crashed"):
            select.select([stdin], [], [], CRASH_GRACE_S)  # let the engine exit first
            return "crashed: " + line[len("crashed"):].strip(), run_id


class _Station:
    """The station's reachable instruments, their role objects (guarded) and what connecting found."""

    def __init__(self, config: Any) -> None:
        from nanocell_daq.engine.guard import Instruments
        from nanocell_daq.station.station import connect_instrument, role_object

        self.config = config
        self.unreachable_why: dict[str, str] = {}
        self.instances: dict[str, Any] = {}
        names = list(config.instruments)
        # identity only, nothing is reset or switched; in parallel: a slow instrument does not delay the rest
        with ThreadPoolExecutor(max_workers=max(1, len(names))) as pool:
            statuses = list(pool.map(lambda name: connect_instrument(config, name), names))
        for name, status in zip(names, statuses, strict=True):
            if status.instance is None:
                self.unreachable_why[name] = status.problem
            else:
                self.instances[name] = status.instance
                if not status.ok:
                    self.unreachable_why[name] = status.problem
        roles = {role: role_object(config, role, self.instances[inst])
                 for role, inst in config.roles.items()
                 if inst in self.instances and inst not in self.unreachable_why}
        self.instruments = Instruments(roles, dict(config.roles))

    def notes(self) -> list[str]:
        """What identifying found: a technique or TSP script left running (aborted by its driver), and, read
        before anything is switched, what became of a TSP script the dead engine started that no longer runs
        (ended by itself at its cut-off, or cut short): a script the engine had running is always accounted
        for, and one is only said to be aborted when this connection aborted it."""
        from nanocell_daq.engine.station_io import instrument_notes

        return instrument_notes(self.instances, skip=self.unreachable_why)

    def unreachable(self, roles: tuple[str, ...]) -> list[str]:
        """``role (instrument) unreachable: why`` for each of ``roles`` whose instrument did not connect."""
        return [f"{role} ({inst}) unreachable: {self.unreachable_why[inst]}"
                for role, inst in self.config.roles.items() if role in roles and inst in self.unreachable_why]

    def close(self) -> None:
        for inst in self.instances.values():
            adapter = getattr(inst, "adapter", None)
            with contextlib.suppress(Exception):
                adapter.close()


def make_safe(config: Any) -> tuple[list[str], list[str], _Station]:
    """Connect, read what is on, switch every source off, open the matrix once they read back off.

    Returns (what was found on, what is left unverified: empty = verified safe, the station to close).
    """
    from nanocell_daq.engine.safety import open_router_if_safe, outputs_off, outputs_read_back

    station = _Station(config)
    instruments = station.instruments
    found = station.notes()
    live, unread = outputs_read_back(instruments)  # before anything is switched
    found += live + unread
    if instruments.has("router"):
        with contextlib.suppress(Exception):
            closed = sorted(instruments.role("router").closed_channels())
            if closed:
                found.append(f"matrix closed on {', '.join(closed)}")
    failures = outputs_off(instruments)
    live, unread = outputs_read_back(instruments)
    problems = live + unread + station.unreachable(SOURCE_ROLES)  # an unseen source may be on
    if problems and failures:
        problems.append(f"(switching off: {'; '.join(failures)})")
    problems += open_router_if_safe(instruments, problems) + station.unreachable(("router",))
    return found, problems, station


def _report(store: Any, run_id: int | None, pid: int, how: str, found: list[str], problems: list[str],
            recovered: list[str], took_s: float) -> str:
    cause = ("ended without a clean exit (killed or crashed)" if how == "died"
             else f"crashed ({how.removeprefix('crashed: ')})")
    did = ("switched every source off (SMU output, potentiostat technique and cell, laser, shutter), "
           "read them back off, then opened the matrix and read it back open")
    result = ("every output off, matrix open (read back)" if not problems
              else "NOT verified safe: " + "; ".join(problems))
    message = (f"supervisor: engine pid {pid} {cause}; found on: {'; '.join(found) or 'nothing'}; "
               f"did: {did if not problems else 'tried to switch every source off'}; {result}"
               + (f"; recovered: {'; '.join(recovered)}" if recovered else "")
               + f" ({took_s:.1f} s after the engine's end)")
    if store is not None and run_id is not None:
        store.log_event(run_id, "error", message)
        info = store.run(run_id)
        if info.status in ("running", "paused"):
            state = "every output off, matrix open"
            if problems:
                state = "NOT verified safe: " + "; ".join(problems)
            reason = f"engine pid {pid} {cause}; supervisor: {state}"
            store.finish_run(run_id, "interrupted", reason)
    return message


def _warm_up(config: Any) -> None:
    """Import the station's drivers and start VISA now (no instrument is opened): less to do after a death."""
    from drivers import registry

    for inst in config.instruments.values():
        with contextlib.suppress(Exception):
            registry.resolve(inst.driver).load()
    with contextlib.suppress(Exception):
        import pyvisa

        pyvisa.ResourceManager()


def main() -> int:
    stdin = sys.stdin.buffer
    header = json.loads(stdin.readline() or b"{}")
    pid = int(header.get("engine_pid") or os.getppid())
    from nanocell_daq.station import parse_station

    config = parse_station(header["station_yaml"], header.get("station_path") or "station.yaml")
    # imported before "ready", so that acting after the engine's death is not slowed by imports
    import nanocell_daq.engine.guard
    import nanocell_daq.engine.safety
    import nanocell_daq.engine.station_io
    import nanocell_daq.station.station
    import nanocell_daq.storage  # noqa: F401

    _warm_up(config)
    print("ready", flush=True)

    how, run_id = _wait_for_engine(stdin)
    if run_id is None:
        run_id = header.get("run_id")
    if how == "clean":
        os._exit(0)  # nothing to flush or close; skips a slow interpreter teardown (VISA, SQLAlchemy)
    t0 = time.monotonic()
    station = None
    try:
        found, problems, station = make_safe(config)
    except Exception as exc:  # noqa: BLE001 - still mark the run and say what went wrong
        found, problems = [], [f"the supervisor could not make the station safe: {type(exc).__name__}: {exc}"]
    from nanocell_daq.storage import Store

    store = None
    try:
        store = Store.open(header["db"], create=False)
    except Exception as exc:  # noqa: BLE001 - the bench is safe already; say why the run is not marked
        _say(f"could not open the run database to record what happened: {exc}")
    recovered: list[str] = []
    try:
        if store is not None and station is not None:
            recovered = _record_recovered(store, run_id, station.instances)
    except Exception as exc:  # noqa: BLE001 - recovery is a bonus; the safe state and the mark come first
        recovered = [f"recovery failed: {type(exc).__name__}: {exc}"]
    finally:
        if station is not None:
            station.close()
    try:
        message = _report(store, run_id, pid, how, found, problems, recovered, time.monotonic() - t0)
    except Exception as exc:  # noqa: BLE001 - e.g. a locked or full database: at least say it here
        _say(f"could not record in the run database: {type(exc).__name__}: {exc}")
        message = _report(None, run_id, pid, how, found, problems, recovered, time.monotonic() - t0)
    if store is not None:
        with contextlib.suppress(Exception):
            _release_lease(store, run_id, pid)
        store.close()
    _say(message)
    if header.get("notify"):  # after the bench is safe and the run marked: never delays either
        from nanocell_daq.notify import send_now

        what = "interrupted" if not problems else "interrupted, NOT verified safe"
        title = f"nanocell: run {run_id if run_id is not None else '?'} {what} (engine died)"
        failed = send_now(header["notify"], title, message)
        if failed:
            _say(f"could not notify {', '.join(failed)}")
    return 0 if not problems else 1

