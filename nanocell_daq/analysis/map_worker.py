"""The worker process of :class:`~nanocell_daq.analysis.map_pool.MapPool` (``python -m`` this module, with the
file descriptor of its socket to the caller): it opens the store it is sent, then fits each job it is sent
until it is sent None, answering (fitted, value, CPU seconds, its peak resident set MB). Nothing imports this
module (it runs as ``__main__``)."""

from __future__ import annotations

import resource
import sys
import time
from multiprocessing.connection import Connection


def serve(fd: int) -> None:
    """Serve the caller on socket ``fd`` (see the module doc)."""
    from nanocell_daq.storage.connect import make_engine
    from nanocell_daq.storage.store import Store

    conn = Connection(fd)
    loc = conn.recv()
    store = Store(make_engine(loc), loc)
    try:
        while (job := conn.recv()) is not None:
            fit, run_id, step_id, args = job
            c0 = time.process_time()
            try:
                value = fit(store, run_id, step_id, *args)
            except Exception:  # noqa: BLE001 - the caller fits this map itself and meets the error there
                value, ok = None, False
            else:
                ok = True
            rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: kB
            conn.send((ok, value, time.process_time() - c0, rss_mb))
    except EOFError:  # the caller is gone
        pass
    finally:
        store.close()


if __name__ == "__main__":
    serve(int(sys.argv[1]))
