"""``nanocell bench map``: engine overhead per Raman map pixel, and the socket round trip for scale.

Overhead = wall time of a map with 1 ms exposures (the CCD's shortest; ~0 at the bench speed) on an
instant stage / pixels: engine + drivers + VISA + emulator + store, everything but the
physics. The bench is started by the caller (the CLI, the composition root).
"""

from __future__ import annotations

import statistics
import textwrap
import time
from pathlib import Path
from typing import Any

from nanocell_daq.engine.plan import expand
from nanocell_daq.engine.protocol import parse_protocol
from nanocell_daq.engine.runner import Engine
from nanocell_daq.engine.station_io import open_station
from nanocell_daq.engine.stationview import StationView

RTT_QUERIES = 200


def _map_protocol(view: StationView, pixels: int) -> str:
    wire = view.wire_position_um or {"start": [0.0, 0.0], "end": [10.0, 0.0]}
    (xs, ys), (xe, ye) = wire["start"], wire["end"]
    dx = (xe - xs) / max(pixels - 1, 1)
    dy = (ye - ys) / max(pixels - 1, 1)
    return textwrap.dedent(f"""\
        protocol: map overhead benchmark
        steps:
          - raman_map: {{label: bench, mode: line, along_wire: false, x0_um: {xs}, y0_um: {ys}, dx_um: {dx},
                         dy_um: {dy}, nx: {pixels}, exposure_s: 0.001, accumulations: 1, laser_power_mW: 0.1}}
        """)


def socket_rtt_ms(instrument: Any, n: int = RTT_QUERIES) -> float:
    """Median round trip of ``*IDN?`` on one instrument (ms)."""
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        instrument.ask("*IDN?")
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def map_overhead(station: str | Path, db: str | Path, pixels: int = 400) -> dict[str, Any]:
    """Run a zero-exposure line map of ``pixels`` into a fresh store; return the figures."""
    from nanocell_daq.storage import Store

    view = StationView.from_file(station)
    plan = expand(parse_protocol(_map_protocol(view, pixels), "<bench map>"), view)
    store = Store.open(db, create=True)
    opened = open_station(view)
    try:
        rtt = socket_rtt_ms(opened.roles["spectrometer"])
        engine = Engine(plan, opened, store, operator="bench")
        t0 = time.perf_counter()
        result = engine.run()
        wall = time.perf_counter() - t0
        step = store.steps(result.run_id)[0]
        step_s = (step.ended - step.started).total_seconds()
        n = len(store.spectra(result.run_id))
    finally:
        opened.close()
        store.close()
    return {
        "status": result.status,
        "pixels": n,
        "map_wall_s": round(step_s, 3),
        "run_wall_s": round(wall, 3),
        "overhead_ms_per_pixel": round(step_s / max(n, 1) * 1e3, 3),
        "socket_rtt_ms": round(rtt, 4),
        "target_ms_per_pixel": 5.0,
    }
