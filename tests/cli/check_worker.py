"""Child process of the fuzz test: runs ``nanocell check`` cases in-process under a memory ceiling.

Reads one JSON list of CLI arguments per line on stdin and answers one JSON line per case: exit code,
captured stdout/stderr, CPU seconds used, and the exception if one escaped ``main`` (the test fails on it).
The first case warms the process up; after it the address space is capped at its size plus ``argv[1]`` bytes,
so a case that needs more than that dies with MemoryError instead of swapping the machine.
"""

from __future__ import annotations

import contextlib
import io
import json
import resource
import sys
import traceback
from typing import Any


def vm_bytes() -> int:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmSize in /proc/self/status")


def run(args: list[str]) -> dict[str, Any]:
    from nanocell_daq.cli import main

    out, err = io.StringIO(), io.StringIO()
    before = resource.getrusage(resource.RUSAGE_SELF)
    rc, error = None, None
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = main(args)
    except MemoryError:
        error = "MemoryError"
    except BaseException:  # noqa: BLE001 - whatever escapes main is what the fuzz test looks for
        error = traceback.format_exc()
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return {"rc": rc, "out": out.getvalue()[-3000:], "err": err.getvalue()[:3000], "cpu_s": cpu,
            "error": error}


def serve() -> None:
    headroom = int(sys.argv[1])
    reply = sys.stdout
    first = True
    for line in sys.stdin:
        result = run(json.loads(line))
        if first:
            limit = vm_bytes() + headroom
            resource.setrlimit(resource.RLIMIT_AS, (limit, resource.RLIM_INFINITY))
            result["vm_limit"] = limit
            first = False
        reply.write(json.dumps(result) + "\n")
        reply.flush()


if __name__ == "__main__":
    serve()
