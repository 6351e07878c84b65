"""``nanocell serve`` over real HTTP (uvicorn on a loopback port): runs with liveness, plots, events,
the queue, the shipped page and its assets, downloads; read-only (no method changes anything)."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request

import pytest

from nanocell_daq.cli import main
from nanocell_daq.engine.lease import EngineLease
from nanocell_daq.storage import Store
from nanocell_daq.storage import queue as rows
from nanocell_daq.viewmodels.demo import write_demo_run
from nanocell_daq.web.data import decimate
from nanocell_daq.web.serve import is_loopback, make_server


@pytest.fixture
def served(tmp_path, monkeypatch):
    monkeypatch.setattr(EngineLease, "start_beating", lambda self: None)
    store = Store.open(tmp_path / "runs.db")
    done = write_demo_run(store, cycles=1, points_per_half=300, map_nx=6, map_ny=2)
    live = store.create_run("si-seed")
    lease = EngineLease(store, "station:test")
    lease.acquire(live)
    rows.add(store, "si_seed", "protocol: x\n", device="nw2")
    server, sock = make_server(store, "127.0.0.1", 0)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", done, live
    finally:
        server.should_exit = True
        thread.join(20)
        sock.close()
        lease.release()
        store.close()


def get(url: str) -> tuple[int, bytes, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, r.read(), r.headers.get("content-type", "")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), exc.headers.get("content-type", "")


def jget(url: str):
    status, body, kind = get(url)
    assert status == 200 and kind.startswith("application/json"), (status, body[:200])
    return json.loads(body)


def test_runs_plots_events_queue_and_downloads_over_http(served):
    base, done, live = served
    runs = jget(f"{base}/api/runs")
    assert [r["id"] for r in runs] == [live, done]
    assert runs[0]["status"] == "running" and runs[0]["engine_pid"] is not None
    assert runs[1]["status"] == "completed"
    run = jget(f"{base}/api/runs/{done}")
    assert run["steps"] and run["status"] == "completed"
    cyc = jget(f"{base}/api/runs/{done}/cycling?max_points=200")
    assert cyc["points"] > 200 and 10 < len(cyc["t_s"]) <= 200 and len(cyc["E_V"]) == len(cyc["t_s"])
    assert min(cyc["E_V"]) > 2 and max(cyc["E_V"]) < 5
    iv = jget(f"{base}/api/runs/{done}/iv")
    assert iv["curves"] and len(iv["curves"][0]["V_V"]) == len(iv["curves"][0]["I_A"]) > 5
    raman = jget(f"{base}/api/runs/{done}/map")
    assert (raman["grid"]["nx"], raman["grid"]["ny"]) == (6, 2)
    assert all(v is not None and v > 0 for row in raman["intensity"] for v in row)
    assert jget(f"{base}/api/runs/{done}/events") is not None
    assert [(e["id"], e["device"]) for e in jget(f"{base}/api/queue")] == [(1, "nw2")]
    status, body, kind = get(f"{base}/api/runs/{done}/report.png")
    assert status == 200 and kind == "image/png" and body[:4] == b"\x89PNG"
    status, body, _ = get(f"{base}/api/runs/{done}/export.h5")
    assert status == 200 and body[:8] == b"\x89HDF\r\n\x1a\n"
    status, body, _ = get(f"{base}/api/runs/{live}/export.h5")
    assert status == 409 and b"running" in body  # a live run is not exported half-written
    assert get(f"{base}/api/runs/999")[0] == 404


def test_page_and_assets_are_shipped_and_nothing_can_be_changed(served):
    base, done, _live = served
    status, page, kind = get(f"{base}/")
    assert status == 200 and kind.startswith("text/html")
    for asset in (b"/assets/monitor.js", b"/assets/monitor.css"):
        assert asset in page
        status, body, _ = get(base + asset.decode())
        assert status == 200 and len(body) > 500
    assert b"http://" not in page and b"https://" not in page  # nothing from the internet
    for method in ("POST", "PUT", "DELETE"):
        request = urllib.request.Request(f"{base}/api/runs/{done}", method=method)
        try:
            urllib.request.urlopen(request, timeout=10)
            code = 200
        except urllib.error.HTTPError as exc:
            code = exc.code
        assert code == 405


def test_decimation_keeps_the_extremes_and_loopback_default():
    import numpy as np

    t = np.arange(100_000, dtype=float)
    e = np.sin(t / 5000)
    e[54_321] = 9.0  # a spike must survive
    td, ed = decimate(t, e, max_points=500)
    assert len(td) <= 500 and 9.0 in ed and td[0] == 0
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0")


def test_serve_refuses_a_missing_database(tmp_path, capsys):
    assert main(["serve", "--db", str(tmp_path / "none.db")]) == 2
    assert "no such database" in capsys.readouterr().err
