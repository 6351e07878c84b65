"""A separate process that writes to a store like the engine does (used by the cross-process tests).

usage: python child.py crash DB            append ~1000 points/s forever, print "appended committed" lines
       python child.py follow DB STOPFILE  write 100 points every 0.2 s until STOPFILE exists, then finish
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from nanocell_daq.storage import Store


def crash(db: str) -> None:
    store = Store.open(db)
    run = store.create_run("crash", "")
    step = store.start_step(run, 0, "charge")
    writer = store.writer(flush_interval=0.1)
    i = 0
    last_print = 0.0
    while True:
        for _ in range(10):
            writer.cycling_point(step, float(i), 3.7, 1e-12, i * 1e-15)
            i += 1
        time.sleep(0.01)
        now = time.monotonic()
        if now - last_print > 0.05:
            print(i, writer.committed["cycling"], flush=True)
            last_print = now


def follow(db: str, stop_file: str) -> None:
    store = Store.open(db)
    run = store.create_run("follow", "")
    step = store.start_step(run, 0, "charge")
    i = 0
    with store.writer(flush_interval=0.05) as writer:
        print(run, flush=True)
        deadline = time.monotonic() + 60
        while not Path(stop_file).exists() and time.monotonic() < deadline:
            for _ in range(100):
                writer.cycling_point(step, float(i), 3.7, 1e-12, 0.0)
                i += 1
            writer.event(run, "info", f"{i} points")
            time.sleep(0.2)
    store.end_step(step)
    store.finish_run(run)
    store.close()
    print("done", i, flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "crash":
        crash(sys.argv[2])
    else:
        follow(sys.argv[2], sys.argv[3])
