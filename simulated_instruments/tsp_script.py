"""Named TSP scripts on the emulated 2600B, run in a real Lua interpreter (lupa, Lua 5.1: TSP is Lua 5.0).

What the emulator does, and on what it rests (Keithley Series 2600B Reference Manual 2600BS-901-01):

* ``loadscript name`` ... ``endscript`` stores a named script; at ``endscript`` it is compiled, and a syntax
  error is queued as -285 "TSP Syntax error at line N: ..." (the firmware's wording) and no script is stored.
  ``name.run()`` (or ``name()``) runs it (section 6, "Load a script by sending commands over the remote
  interface" and "Run scripts").
* A running script owns the command interface: every other command that arrives meanwhile waits in the
  input queue and runs, in order, once the script has ended (the instrument executes one command message at
  a time; the 2600B's GPIB "DCL"/"SDC" entries list "the command queue" among what a device clear empties).
  Queries are therefore answered only after the script; the script's own ``print`` lines stream to the host
  that started it as they are printed.
* ``abort`` ends the running script at once (Keithley's ``tspnet.tsp.abort()``: "simply sends an 'abort'
  string to the remote instrument"; "causes the TSP-enabled instrument to stop executing any of the commands
  that were sent to it", 2461/2600A manuals). Outputs stay as the script left them: nothing documents that
  an abort switches a source off, so the host has to (the driver does). Commands queued before the abort run
  after it. How the firmware sees an ``abort`` while busy is not documented; the emulator takes it out of
  the queue (unconfirmed).
* A script that raises an error ends; the error is queued as -286 "TSP Runtime error at line N: ...", or with
  the instrument's own code for a bad setting (1101/1102...).
* A script goes on when the connection that started it closes (Keithley's ``tspnet.tsp.abortonconnect``
  exists because a script can still be running when a new controller connects); its prints are then lost.
* ``timer.reset()``/``timer.measure.t()`` and ``delay()`` run on the bench's simulated clock.
* Scripts and commands share one runtime environment: a global a script sets is read by a later command
  (``print(name)``) and a global a command assigns (``name = "text"``) is seen by later commands and scripts.
  2600BS-901-01 Rev. F, section 8 "Instrument programming", p. 8-2: "The runtime environment is a
  collection of global variables, which include scripts, that the user has defined. A global variable can
  be used to store a value while the instrument is turned on"; Rev. B p. 6-13 ("Values and variable
  types"): "Variables in Lua are assumed to be global unless they are explicitly declared to be local. A
  global variable is accessible by all commands. Global variables do not exist until they have been
  assigned a value." Assigning a top-level command name (``smua = 5``, which the firmware accepts and
  which hides those commands until ``restoreglobals``, same page) stays refused here.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any

import lupa.lua51 as lua51

from simulated_instruments.tsp import TspError, tsp_value

_TABLES = {"smua", "smub", "smua.source", "smub.source", "smua.measure", "smub.measure", "timer",
           "timer.measure", "errorqueue", "format", "localnode", "string", "math"}
_FUNCTIONS = {"smua.reset", "smub.reset", "timer.reset", "timer.measure.t", "errorqueue.next",
              "errorqueue.clear", "reset", "waitcomplete"}
_MEASURE = re.compile(r"^smu[ab]\.measure\.(i|v|iv|r|p)$")
_ERROR_LINE = re.compile(r"^[^:]*:(\d+): (.*)$", re.S)

_PRELUDE = """
local lookup, set, call, hook = ...
local function proxy(path)
  return setmetatable({}, {
    __index = function(_, key)
      local full = path .. "." .. key
      local kind, value = lookup(full)
      if kind == "function" then return function(...) return call(full, ...) end end
      if kind == "table" then return proxy(full) end
      return value
    end,
    __newindex = function(_, key, value) set(path .. "." .. key, value) end,
  })
end
for _, name in ipairs({"smua", "smub", "timer", "errorqueue", "format", "localnode"}) do
  _G[name] = proxy(name)
end
delay = function(s) call("delay", s) end
reset = function() call("reset") end
waitcomplete = function() end
print = function(...) call("print", ...) end
os, io, package, require, dofile, loadfile, python, module = nil, nil, nil, nil, nil, nil, nil, nil
debug.sethook(function() hook() end, "", 1000)
debug = nil
"""


class Aborted(Exception):
    """Raised inside a script's callbacks to end it (``abort``, bench stop)."""


class ScriptHost:
    """The Lua runtime environment of one emulated instrument: named scripts, globals, one run at a time.

    ``lookup(name) -> (kind, value)``, ``assign(name, value)``, ``invoke(name, args) -> list`` reach the
    instrument (called with the instrument's lock held); ``print_line(text)`` sends a line to the host that
    started the run.
    """

    def __init__(self, lock: threading.RLock, lookup: Callable[[str], Any],
                 assign: Callable[[str, Any], None], invoke: Callable[[str, list[Any]], list[Any]],
                 sleep: Callable[[float, threading.Event], None],
                 on_error: Callable[[int, str], None], on_start: Callable[[], None] = lambda: None) -> None:
        self._lock = lock
        self._lookup, self._assign, self._invoke, self._sleep = lookup, assign, invoke, sleep
        self._on_error = on_error
        self._on_start = on_start
        self.lua = lua51.LuaRuntime(register_eval=False, register_builtins=False, unpack_returned_tuples=True)
        self._load = self.lua.eval("loadstring")
        self.scripts: dict[str, Any] = {}
        self._abort = threading.Event()
        self._thread: threading.Thread | None = None
        self._active = False
        self._printer: Callable[[str], None] | None = None
        prelude = self._load(_PRELUDE, "=prelude")
        prelude(self._lua_lookup, self._lua_set, self._lua_call, self._hook)

    # ------------------------------------------------------------------ scripts
    def load(self, name: str, lines: list[str]) -> None:
        """Compile and store ``name``; TspError(-285) on a syntax error (nothing stored)."""
        compiled = self._load("\n".join(lines), "=" + name)
        if isinstance(compiled, tuple):  # (nil, message)
            raise TspError(-285, _tsp_message("Syntax", compiled[1]))
        self.scripts[name] = compiled
        self.lua.globals()[name] = self.lua.eval("function(f) return setmetatable({run = f}, "
                                                 "{__call = function(_) f() end}) end")(compiled)

    def global_value(self, name: str) -> Any:
        """A global variable of the runtime environment (None = nil); scripts are not values here."""
        value = self.lua.globals()[name]
        return value if isinstance(value, str | int | float | bool) else None

    def set_global(self, name: str, value: str | float | bool | None) -> None:
        """Assign a global variable of the runtime environment (a command such as ``x = "idle"``; None = nil),
        seen by every later command and script."""
        self.lua.globals()[name] = value

    @property
    def running(self) -> bool:
        return self._active

    def run(self, name: str, printer: Callable[[str], None], done: Callable[[], None]) -> None:
        """Start ``name`` in its own thread; ``done()`` is called (without the lock) when it has ended."""
        script = self.scripts[name]
        self._abort.clear()
        self._printer = printer
        self._active = True

        def body() -> None:
            try:
                self._on_start()
                script()
            except Aborted:
                pass
            except TspError as err:
                with self._lock:
                    self._on_error(err.code, err.message)
            except lua51.LuaError as err:
                with self._lock:
                    self._on_error(-286, _tsp_message("Runtime", str(err)))
            finally:
                self._active = False
                done()

        self._thread = threading.Thread(target=body, name=f"tsp-script-{name}", daemon=True)
        self._thread.start()

    def abort(self) -> None:
        """End the running script at its next instruction or callback (no-op when none runs: a flag left
        set would end the next upload, whose Lua also passes the instruction hook)."""
        if self._active:
            self._abort.set()

    def join(self, timeout: float | None = None) -> None:
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    # ------------------------------------------------------------------ callbacks from Lua
    def _check(self) -> None:
        if self._abort.is_set():
            raise Aborted()

    def _hook(self, *_: Any) -> None:
        if threading.current_thread() is self._thread:  # a script's instructions, not an upload's
            self._check()

    def _lua_lookup(self, name: str) -> tuple[str, Any]:
        self._check()
        if name in _FUNCTIONS or _MEASURE.match(name):
            return ("function", None)
        if name in _TABLES:
            return ("table", None)
        with self._lock:
            return ("value", self._lookup(name))

    def _lua_set(self, name: str, value: Any) -> None:
        self._check()
        with self._lock:
            self._assign(name, value)

    def _lua_call(self, name: str, *args: Any) -> Any:
        self._check()
        if name == "print":
            printer = self._printer
            if printer is not None:
                printer("\t".join(tsp_value(a) for a in args))
            return None
        if name == "delay":
            if len(args) != 1 or not isinstance(args[0], int | float) or args[0] < 0:
                raise TspError(-286, "TSP Runtime error: bad argument #1 to 'delay'")
            self._sleep(float(args[0]), self._abort)
            self._check()
            return None
        with self._lock:
            values = self._invoke(name, [float(a) if isinstance(a, int) and not isinstance(a, bool) else a
                                         for a in args])
        return tuple(values) if len(values) != 1 else values[0]


def _tsp_message(kind: str, lua_message: str) -> str:
    """``nc_galv:12: msg`` -> ``TSP Syntax error at line 12: msg`` (the firmware's form)."""
    first = lua_message.split("\nstack traceback:", maxsplit=1)[0].strip()
    m = _ERROR_LINE.match(first)
    if m is None:
        return f"TSP {kind} error: {first}"
    return f"TSP {kind} error at line {m.group(1)}: {m.group(2)}"
