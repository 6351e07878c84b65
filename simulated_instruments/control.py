"""The bench's control endpoint: its state and fault injection, asked for from another process.

A loopback-only TCP socket (``127.0.0.1``, ephemeral port) beside the instrument servers; the station file
written by the bench names it (``simulation: control: "127.0.0.1:PORT"``), so ``nanocell sim state`` and
``nanocell sim fault`` find a running ``nanocell sim serve`` from its station file alone. One JSON object
per line each way:

- ``{"op": "state"}`` -> ``{"ok": true, "state": {...}}`` (see :func:`bench_state`)
- ``{"op": "fault", "instrument": "smu", "kind": "error_next", "count": 3}`` (``count: null`` keeps it until
  cleared; ``seconds`` for ``delay``) -> ``{"ok": true, "pending": {...}}``
- ``{"op": "clear", "instrument": "smu"}`` (or no instrument: every one) -> ``{"ok": true}``
- ``{"op": "reset"}``: the cell back to pristine (refused while anything is live on the bench) ->
  ``{"ok": true, "cell": {...}}`` (its state read back after the reset: ``SimulatedBench.cell_state``)

A bad request gets ``{"ok": false, "error": "one line"}``; the connection stays open.
"""

from __future__ import annotations

import json
import socket
import threading
from typing import Any

from simulated_instruments.faults import FAULT_KINDS, FaultError
from simulated_instruments.server import accept_loop

MAX_REQUEST = 4096
"""Longest request line (bytes); a longer one ends that connection."""

RESET_WAIT_S = 2.0
"""How long a reset waits for a script or technique a run just stopped to end before it is refused (s)."""

LIVE_OUTPUTS = ("smu", "pstat", "spectrometer", "shutter")
"""Instruments whose output can be live: SMU output, potentiostat cell, laser emission, open shutter."""


class ControlError(RuntimeError):
    """The control endpoint is unreachable or answered garbage (message is one line)."""


class ControlRefused(ControlError):
    """The bench refused the request (unknown instrument or fault kind, bad parameter)."""


def bench_state(bench: Any) -> dict[str, Any]:
    """What a user checking the bench wants in one object.

    ``outputs_on``: live outputs (names of :data:`LIVE_OUTPUTS`); ``matrix_closed``: closed crosspoints;
    ``damage_events``: pads driven by two sources at once; ``max_wire_current_A``: the largest current the
    SMU measured through the wire; ``switched_under_bias``: matrix changes made while a source was on;
    ``pstat_running``: a MethodSCRIPT technique runs; ``smu_script_running``: a TSP script runs on the SMU
    (a 2636B); ``errors``/``faults``: per instrument.
    """
    # Read without the emulators' locks: an instrument busy with a long command (a spectrometer exposing,
    # holding its lock for the exposure) must not delay or skew the snapshot; flags are read atomically.
    emulators = bench.emulators
    outputs = [name for name in LIVE_OUTPUTS if emulators[name].output_on()]
    wiring = bench.wiring
    with wiring._lock:
        closed = sorted(wiring.closed)
        hot = list(wiring.hot_switches)
    running = bool(emulators["pstat"].running)
    return {
        "outputs_on": outputs,
        "matrix_closed": closed,
        "damage_events": len(bench.damage),
        "damage": [{"t_sim": d.t_sim, "pad": d.pad, "reason": d.reason} for d in bench.damage],
        "max_wire_current_A": float(bench.max_wire_current_A),
        "switched_under_bias": len(hot),
        "switched_under_bias_events": hot,
        "pstat_running": running,
        "smu_script_running": bool(getattr(emulators["smu"], "script_running", False)),
        "stage_moving": bool(emulators["stage"].output_on()),
        "t_sim": float(bench.clock.now()),
        "speed": float(bench.clock.speed),
        "errors": {name: len(emu.errors) for name, emu in emulators.items()},
        "faults": {name: bench.pending_faults(name) for name in bench.emulators},
    }


def _answer(bench: Any, request: Any) -> dict[str, Any]:
    if not isinstance(request, dict):
        return {"ok": False, "error": "a request is one JSON object"}
    op = request.get("op")
    instruments = list(bench.emulators)
    if op == "state":
        return {"ok": True, "state": bench_state(bench)}
    if op == "reset":
        try:
            return {"ok": True, "cell": bench.reset_cell("requested", wait_s=RESET_WAIT_S)}
        except RuntimeError as exc:  # BenchError: something is live on the bench
            return {"ok": False, "error": str(exc)}
    if op in ("fault", "clear"):
        name = request.get("instrument")
        if op == "clear" and name is None:
            bench.clear_faults()
            return {"ok": True}
        if name not in instruments:
            return {"ok": False, "error": f"unknown instrument {name!r}; valid: {', '.join(instruments)}"}
        if op == "clear":
            bench.clear_faults(name)
            return {"ok": True}
        kind = request.get("kind")
        if kind not in FAULT_KINDS:
            return {"ok": False, "error": f"unknown fault kind {kind!r}; valid: {', '.join(FAULT_KINDS)}"}
        params: dict[str, Any] = {}
        if "count" in request:
            params["count"] = request["count"]
        if request.get("seconds") is not None:
            params["seconds"] = request["seconds"]
        try:
            bench.inject(name, kind, **params)
        except (FaultError, TypeError, ValueError) as exc:
            return {"ok": False, "error": str(exc)}
        return {"ok": True, "pending": bench.pending_faults(name)}
    return {"ok": False, "error": f"unknown op {op!r}; valid: state, fault, clear, reset"}


class ControlServer:
    """Serves :func:`_answer` for ``bench`` on 127.0.0.1 (never another interface)."""

    def __init__(self, bench: Any) -> None:
        self.bench = bench
        self._listener: socket.socket | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.address = ""

    def start(self) -> str:
        self._stopping.clear()
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        listener.settimeout(0.1)
        self._listener = listener
        self.address = f"127.0.0.1:{listener.getsockname()[1]}"
        self._thread = threading.Thread(target=self._accept, name="sim-control-accept", daemon=True)
        self._thread.start()
        return self.address

    def _accept(self) -> None:
        assert self._listener is not None
        accept_loop(self._listener, self._stopping, lambda sock: threading.Thread(
            target=self._serve, args=(sock,), name="sim-control", daemon=True).start())

    def _serve(self, sock: socket.socket) -> None:
        sock.settimeout(30.0)
        buf = b""
        try:
            with sock:
                while not self._stopping.is_set():
                    chunk = sock.recv(4096)
                    if not chunk:
                        return
                    buf += chunk
                    while b"\n" in buf:
                        line, buf = buf.split(b"\n", 1)
                        try:
                            reply = _answer(self.bench, json.loads(line))
                        except ValueError as exc:
                            reply = {"ok": False, "error": f"not JSON: {exc}"}
                        sock.sendall(json.dumps(reply).encode() + b"\n")
                    if len(buf) > MAX_REQUEST:
                        return
        except OSError:
            return

    def stop(self) -> None:
        self._stopping.set()
        if self._listener is not None:
            try:
                self._listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._listener.close()
        if self._thread is not None:
            self._thread.join(timeout=2)


def parse_address(address: str) -> tuple[str, int]:
    """``"127.0.0.1:PORT"`` -> (host, port); ControlError unless it is a loopback address."""
    host, sep, port = str(address).rpartition(":")
    if not sep or host not in ("127.0.0.1", "localhost") or not port.isdigit() or not 0 < int(port) < 65536:
        raise ControlError(f"control address {address!r}: expected 127.0.0.1:PORT (loopback only)")
    return host, int(port)


def request(address: str, payload: dict[str, Any], timeout_s: float = 5.0) -> dict[str, Any]:
    """Send one request to the control endpoint at ``address``; its answer (ControlError if refused)."""
    host, port = parse_address(address)
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as sock:
            sock.sendall(json.dumps(payload).encode() + b"\n")
            buf = b""
            while not buf.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                buf += chunk
    except OSError as exc:
        raise ControlError(f"no simulated bench answers at {address} ({exc}); is `nanocell sim serve` "
                           f"running?") from exc
    try:
        reply = json.loads(buf)
    except ValueError as exc:
        raise ControlError(f"the simulated bench at {address} answered garbage: {buf[:80]!r}") from exc
    if not reply.get("ok"):
        raise ControlRefused(str(reply.get("error", "request refused")))
    return reply
