"""Threaded loopback TCP servers, one per emulator, carrying the instruments' line protocols.

Each connection has its own reader thread; every command is handled under the emulator's lock. Garbage
bytes, overlong lines, unknown commands, half-closed and reset sockets end at most that one connection,
never the server. Faults (``simulated_instruments.faults``) are applied here: ``drop`` and ``error_next``
when a command arrives, ``delay``, ``timeout`` and ``garble`` when a reply leaves.
"""

from __future__ import annotations

import logging
import random
import socket
import threading
import time
from collections.abc import Callable

from simulated_instruments.emulator import Emulator, Reply

log = logging.getLogger(__name__)

_GARBLE_CHARS = b"#?!~%&@^$|{}<>"


def garble(data: bytes, rng: random.Random) -> bytes:
    """Replace every byte but CR/LF with junk, so the reply keeps its framing but not its content."""
    out = bytearray(data)
    for i, b in enumerate(out):
        if b not in (0x0A, 0x0D):
            out[i] = rng.choice(_GARBLE_CHARS)
    return bytes(out)


class Connection(Reply):
    """One client connection: the reply path (with the reply-side faults) and the reader loop."""

    def __init__(self, sock: socket.socket, emulator: Emulator, rng: random.Random) -> None:
        self._sock = sock
        self._emulator = emulator
        self._rng = rng
        self._send_lock = threading.Lock()
        self._closed = False
        self._sock_closed = False
        self._last_line: str | None = None
        """The last command received (what a ``match`` fault on a reply looks at)."""

    @property
    def closed(self) -> bool:
        return self._closed

    def send(self, data: str | bytes) -> None:
        raw = data.encode("latin-1") if isinstance(data, str) else bytes(data)
        faults, line = self._emulator.faults, self._last_line
        if faults.take("timeout", line) is not None:
            log.debug("%s: fault timeout swallowed %r", self._emulator.name, raw[:80])
            return
        if faults.take("garble", line) is not None:
            raw = garble(raw, self._rng)
        late = faults.take("late", line)
        if late is not None:
            timer = threading.Timer(late["seconds"], self._send_now, (raw,))
            timer.daemon = True
            timer.start()
            return
        delay = faults.take("delay", line)
        if delay is not None and delay["seconds"] > 0:
            time.sleep(delay["seconds"])
        self._send_now(raw)

    def _send_now(self, raw: bytes) -> None:
        with self._send_lock:
            if self._closed:
                return
            try:
                self._sock.sendall(raw)
            except OSError:
                self._closed = True

    def close(self) -> None:
        with self._send_lock:
            self._closed = True
            if self._sock_closed:
                return
            self._sock_closed = True
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()

    def serve(self) -> None:
        """Read lines until the peer closes (or a ``drop`` fault); never raises."""
        emu = self._emulator
        buf = bytearray()
        discarding = False
        try:
            while not self._closed:
                try:
                    chunk = self._sock.recv(65536)
                except OSError:
                    break
                if not chunk:
                    break
                buf += chunk
                while True:
                    idx = _find_terminator(buf, emu.terminators)
                    if idx < 0:
                        if len(buf) > emu.max_line and not discarding:
                            discarding = True
                            buf.clear()
                            self._dispatch_overlong()
                        elif discarding:
                            buf.clear()
                        break
                    raw_line = bytes(buf[:idx])
                    del buf[: idx + 1]
                    if discarding:
                        discarding = False
                        continue
                    if len(raw_line) > emu.max_line:
                        self._dispatch_overlong()
                        continue
                    line = raw_line.decode("latin-1")
                    if emu.terminators == b"\n":
                        line = line.rstrip("\r")
                    if not line.strip() and not emu.keep_empty_lines:
                        continue
                    if not self._dispatch(line):
                        return
        finally:
            self.close()

    def _dispatch_overlong(self) -> None:
        emu = self._emulator
        with emu.lock:
            reply = emu.overlong(self)
            emu.record(f"<line longer than {emu.max_line} bytes>", reply)
        if reply is not None:
            self.send(reply)

    def _dispatch(self, line: str) -> bool:
        emu = self._emulator
        self._last_line = line
        if emu.faults.take("drop", line) is not None:
            log.debug("%s: fault drop on %r", emu.name, line)
            emu.record(line, "<connection dropped>")
            self.close()
            return False
        with emu.lock:
            if emu.faults.take("error_next", line) is not None:
                reply = emu.injected_error(line, self)
            else:
                try:
                    reply = emu.handle(line, self)
                except Exception as exc:  # a bug in one command must not kill the instrument
                    log.exception("%s: internal error on %r", emu.name, line)
                    emu.record_error(f"internal error on {line!r}: {exc!r}")
                    reply = None
            emu.record(line, reply)
        if reply is not None:
            self.send(reply)
        return True


def _find_terminator(buf: bytearray, terminators: bytes) -> int:
    found = [i for i in (buf.find(bytes([t])) for t in terminators) if i >= 0]
    return min(found) if found else -1


class InstrumentServer:
    """A listening socket on 127.0.0.1 (ephemeral port) serving one emulator."""

    def __init__(self, emulator: Emulator, host: str = "127.0.0.1", port: int = 0, seed: int = 0,
                 on_connect: Callable[[Connection], None] | None = None) -> None:
        self.emulator = emulator
        self.on_connect = on_connect
        """Called for each new connection before any of its commands is read (the bench's new session)."""
        self._host = host
        self._port = port
        self._rng = random.Random(seed)
        self._listener: socket.socket | None = None
        self._bound_port: int | None = None
        self._thread: threading.Thread | None = None
        self._connections: list[Connection] = []
        self._stopping = threading.Event()

    @property
    def port(self) -> int:
        if self._bound_port is None:
            raise RuntimeError(f"{self.emulator.name} server is not started")
        return self._bound_port

    @property
    def resource(self) -> str:
        """The pyvisa-py resource name of this instrument."""
        return f"TCPIP::{self._host}::{self.port}::SOCKET"

    def start(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self._host, self._port))
        listener.listen(16)
        listener.settimeout(0.1)
        self._listener = listener
        self._bound_port = int(listener.getsockname()[1])
        self._thread = threading.Thread(target=self._accept_loop, name=f"sim-{self.emulator.name}-accept",
                                        daemon=True)
        self._thread.start()

    def _accept_loop(self) -> None:
        assert self._listener is not None
        accept_loop(self._listener, self._stopping, self._serve_socket)

    def _serve_socket(self, sock: socket.socket) -> None:
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = Connection(sock, self.emulator, self._rng)
        if self.on_connect is not None:
            try:
                self.on_connect(conn)
            except Exception:  # a failed hook must not refuse the instrument
                log.exception("%s: connection hook failed", self.emulator.name)
        self._connections = [c for c in self._connections if not c.closed] + [conn]
        threading.Thread(target=conn.serve, name=f"sim-{self.emulator.name}-conn", daemon=True).start()

    def stop(self) -> None:
        self._stopping.set()
        if self._listener is not None:
            try:
                self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept() at once
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=2)
        if self._listener is not None:
            self._listener.close()
        for conn in self._connections:
            conn.close()
        self._connections = []


def accept_loop(listener: socket.socket, stopping: threading.Event,
                serve: Callable[[socket.socket], None]) -> None:
    """Hand each connection ``listener`` accepts to ``serve`` until ``stopping`` is set or it is closed
    (the listener has a short timeout, so a stop is seen within it)."""
    while not stopping.is_set():
        try:
            sock, _ = listener.accept()
        except TimeoutError:
            continue
        except OSError:
            break
        serve(sock)
