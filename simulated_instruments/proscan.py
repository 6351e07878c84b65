"""Prior ProScan III stage controller emulator (``\\r`` terminated).

Positions and moves are in the controller's user units: one unit is the resolution in micrometres
(``RES,S`` for X/Y, ``RES,Z`` for the focus axis; both 0.1 um at power-on here, like a ProScan III focus
(its ``SSZ`` default); a stage's default is unconfirmed). ``P`` answers ``x,y,z`` in whole units (the
stage sits on whole motor steps; decimals in a move are accepted). Settings per the *ProScan III Manual*
(Prior Scientific, v1.12 June 2017, section 4):

* ``RES,S`` / ``RES,Z`` (section 4.3 / 4.4) answer the resolution (um per unit); ``RES,S,r`` /
  ``RES,Z,r`` set it (``0``); a resolution outside 0.001-100 um answers ``E,8``; ``RES`` without an
  axis is ``E,4``. Positions kept by the controller stay where they are physically.
* ``COMP`` (section 4.2) answers the mode: ``0`` standard (a move answers ``R`` at its end), ``1``
  compatibility (the H128 legacy mode, section 4.1); ``COMP,n`` sets it (``0``; other n: ``E,8``). Both
  persist in a real controller from whatever program ran last: ``compat_mode=1`` starts the emulator that
  way. Compatibility mode's reply formats are not emulated (every reply stays the standard one); the
  driver refuses to work in that mode.

Moves (``G x,y[,z]``, ``GR dx,dy[,dz]``, ``GX``/``GY``/``GZ``)
answer ``R`` only when the move ends (move time = distance / speed + settle, in simulated time); up to 100
moves queue (then ``E,18``). ``$`` answers the decimal bitmap of moving axes (1 X, 2 Y, 4 Z), ``=`` the
bitmap of limit switches hit by the last move. ``K``/``I`` stop at once (``R``; queued moves are dropped).
Setters answer ``0``. Errors: ``E,4`` bad argument, ``E,5`` unknown command, ``E,8`` target outside the
travel. The ``stage_limit`` fault makes the next move stop half-way (limit switch): it answers ``R``, ``P``
shows where it stopped and ``=`` the axes that hit a limit.
"""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass
from typing import Any

from simulated_instruments.emulator import Emulator, Reply

SPEED_XY_UM_S = 1000.0  # at SMS 100
SPEED_Z_UM_S = 100.0  # at SMS 100
SETTLE_S = 0.05
MAX_QUEUE = 100
INFO_LINES = ["DRIVE CHIP 6 4 2", "JOYSTICK ACTIVE", "STAGE = H117", "FOCUS = NONE", "FILTER_1 = NONE",
              "SHUTTER_1 = NONE", "AUTOFOCUS = NONE", "END"]


@dataclass
class _Move:
    conn: Reply | None
    start: tuple[float, float, float]
    end: tuple[float, float, float]
    t_start: float
    t_end: float
    limits_hit: int = 0


class ProScan3(Emulator):
    terminators = b"\r\n"

    def __init__(self, name: str, clock: Any, faults: Any, travel_um: dict[str, tuple[float, float]],
                 start_um: tuple[float, float, float] = (0.0, 0.0, 0.0), resolution_um: float = 0.1,
                 resolution_z_um: float = 0.1, compat_mode: int = 0) -> None:
        super().__init__(name, clock, faults)
        self.travel = travel_um
        self._pos = tuple(float(v) for v in start_um)
        self._offset = (0.0, 0.0, 0.0)
        self._moves: list[_Move] = []
        self._limits = 0
        self.speed_pct = 100
        self.accel_pct = 100
        self.resolution = {"S": float(resolution_um), "Z": float(resolution_z_um)}
        """um per user unit: ``S`` for X and Y, ``Z`` for the focus axis."""
        self.compat_mode = int(compat_mode)
        self._cond = threading.Condition(self.lock)
        self._stopping = False
        self._worker = threading.Thread(target=self._complete_moves, name=f"sim-{name}-moves", daemon=True)
        self._worker.start()

    # ------------------------------------------------------------------ motion
    def position(self, t: float | None = None) -> tuple[float, float, float]:
        """The physical stage position (um, stage coordinates) at simulated time ``t`` (now by default)."""
        with self.lock:
            t = self.clock.now() if t is None else t
            pos = self._pos
            for move in self._moves:
                if t >= move.t_end:
                    pos = move.end
                    continue
                if t > move.t_start:
                    f = (t - move.t_start) / (move.t_end - move.t_start)
                    pos = tuple(a + (b - a) * f for a, b in zip(move.start, move.end, strict=True))
                break
            return pos  # type: ignore[return-value]

    def moving_bits(self) -> int:
        now = self.clock.now()
        bits = 0
        for move in self._moves:
            if move.t_start <= now < move.t_end:
                for i, bit in enumerate((1, 2, 4)):
                    if abs(move.end[i] - move.start[i]) > 1e-9:
                        bits |= bit
        return bits

    def output_on(self) -> bool:
        return bool(self._moves)

    def _queue_move(self, target: tuple[float, float, float], conn: Reply) -> str | None:
        for axis, value in zip("xyz", target, strict=True):
            lo, hi = self.travel[axis]
            if not lo - 1e-9 <= value <= hi + 1e-9:
                self.record_error(f"move to {target} outside the travel")
                return "E,8\r"
        if len(self._moves) >= MAX_QUEUE:
            return "E,18\r"
        now = self.clock.now()
        start = self._moves[-1].end if self._moves else self.position(now)
        t_start = max(now, self._moves[-1].t_end) if self._moves else now
        limits = 0
        end = target
        if self.faults.take("stage_limit") is not None:
            # a limit switch stops the move half-way
            end = tuple((a + b) / 2 for a, b in zip(start, target, strict=True))  # type: ignore[assignment]
            limits = sum(bit for i, bit in enumerate((1, 2, 4)) if abs(target[i] - start[i]) > 1e-9)
        dxy = max(abs(end[0] - start[0]), abs(end[1] - start[1]))
        dz = abs(end[2] - start[2])
        scale = self.speed_pct / 100.0
        duration = max(dxy / (SPEED_XY_UM_S * scale), dz / (SPEED_Z_UM_S * scale)) + SETTLE_S
        self._moves.append(_Move(conn, start, end, t_start, t_start + duration, limits))
        self._cond.notify_all()
        return None

    def _complete_moves(self) -> None:
        with self._cond:
            while not self._stopping:
                if not self._moves:
                    self._cond.wait(0.5)
                    continue
                move = self._moves[0]
                wait = self.clock.wall_for(move.t_end - self.clock.now())
                if wait > 0:
                    self._cond.wait(min(wait, 0.5))
                    continue
                self._moves.pop(0)
                self._pos = move.end
                self._limits = move.limits_hit
                if move.conn is not None:
                    conn = move.conn
                    self._cond.release()
                    try:
                        conn.send("R\r")
                    finally:
                        self._cond.acquire()

    def _stop_now(self) -> None:
        self._pos = self.position()
        self._moves.clear()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()

    # ------------------------------------------------------------------ protocol
    def overlong(self, conn: Reply) -> str:
        self.record_error("input line too long")
        return "E,4\r"

    def injected_error(self, line: str, conn: Reply) -> str:
        self.record_error(f"injected error on {line!r}")
        return "E,2\r"

    def _unit(self, axis: int) -> float:
        """um per user unit of axis 0 (X), 1 (Y) or 2 (Z)."""
        return self.resolution["Z" if axis == 2 else "S"]

    def _fmt_pos(self, values: tuple[float, ...], axes: tuple[int, ...] = (0, 1, 2)) -> str:
        """Positions (um) as whole user units."""
        return ",".join(f"{round(v / self._unit(i)):d}" for v, i in zip(values, axes, strict=True))

    def _reported(self) -> tuple[float, float, float]:
        """The reported position in um (physical position plus the ``PS``/``PX`` offset)."""
        p = self.position()
        return tuple(a + o for a, o in zip(p, self._offset, strict=True))  # type: ignore[return-value]

    def handle(self, line: str, conn: Reply) -> str | None:
        tokens = [t for t in re.split(r"[,\s;:]+", line.strip()) if t]
        if not tokens:
            return None
        cmd, args = tokens[0].upper(), tokens[1:]
        try:
            nums = [float(a) for a in args if a.upper() not in ("S", "Z", "X", "Y", "F")]
        except ValueError:
            self.record_error(f"bad argument in {line!r}")
            return "E,4\r"
        if any(not math.isfinite(v) for v in nums):
            return "E,4\r"
        reply = self._dispatch(cmd, args, nums, conn)
        if reply is None:
            return None
        if reply == "E,5":
            self.record_error(f"unknown command {line!r}")
        return reply + "\r"

    def _dispatch(self, cmd: str, args: list[str], nums: list[float],
                  conn: Reply) -> str | None:
        rep = self._reported()
        um = [v * self._unit(i) for i, v in enumerate(nums[:3])]  # user units -> um, axes X, Y, Z
        if cmd in ("G", "GR", "GX", "GY", "GZ"):
            target = list(rep)
            if cmd == "G":
                if len(nums) < 2:
                    return "E,4"
                target[: len(um)] = um
            elif cmd == "GR":
                if len(nums) < 2:
                    return "E,4"
                for i, d in enumerate(um):
                    target[i] += d
            else:
                if len(nums) != 1:
                    return "E,4"
                axis = "XYZ".index(cmd[1])
                target[axis] = nums[0] * self._unit(axis)
            phys = tuple(a - o for a, o in zip(target, self._offset, strict=True))
            reply = self._queue_move(phys, conn)  # type: ignore[arg-type]
            return reply.rstrip("\r") if reply else None
        if cmd in ("P", "PS"):
            if nums:
                phys = self.position()
                new = list(rep)
                new[: len(um)] = um
                self._offset = tuple(n - p for n, p in zip(new, phys, strict=True))  # type: ignore[assignment]
                return "0"
            return self._fmt_pos(rep)
        if cmd in ("PX", "PY", "PZ"):
            i = "XYZ".index(cmd[1])
            if nums:
                off = list(self._offset)
                off[i] = nums[0] * self._unit(i) - self.position()[i]
                self._offset = tuple(off)  # type: ignore[assignment]
                return "0"
            return self._fmt_pos((rep[i],), (i,))
        if cmd == "$":
            return str(self.moving_bits())
        if cmd == "=":
            return str(self._limits)
        if cmd in ("K", "I"):
            self._stop_now()
            return "R"
        if cmd in ("SMS", "SAS", "SCS"):
            attr = {"SMS": "speed_pct", "SAS": "accel_pct", "SCS": "accel_pct"}[cmd]
            if not nums:
                return str(getattr(self, attr))
            if not 1 <= nums[0] <= 100:
                return "E,8"
            setattr(self, attr, int(nums[0]))
            return "0"
        if cmd == "RES":
            axis = args[0].upper() if args else ""
            if axis not in ("S", "Z") or len(nums) > 1:
                return "E,4"
            if not nums:
                return f"{self.resolution[axis]:g}"
            if not 0.001 <= nums[0] <= 100:
                return "E,8"
            self.resolution[axis] = nums[0]
            return "0"
        if cmd == "COMP":
            if not nums:
                return str(self.compat_mode)
            if nums[0] not in (0, 1) or len(nums) > 1:
                return "E,8"
            self.compat_mode = int(nums[0])
            return "0"
        if cmd == "?":
            return "\r".join(INFO_LINES)
        if cmd in ("STAGE", "FOCUS"):
            return "\r".join([f"{cmd} = H117" if cmd == "STAGE" else "FOCUS = NONE", "END"])
        if cmd == "VERSION":
            return "100"
        if cmd == "SERIAL":
            return "12345"
        if cmd in ("H", "J", "BLSH", "SERVO", "ENCODER", "BAUD"):
            return "0"
        return "E,5"
