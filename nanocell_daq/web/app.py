"""The FastAPI application of ``nanocell serve``: pages from ``assets/`` and JSON endpoints, read-only."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Query
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.background import BackgroundTask

from nanocell_daq.errors import UserError
from nanocell_daq.web import data

ASSETS = Path(__file__).with_name("assets")


def _known(store: Any, run_id: int) -> int:
    try:
        if not 0 < run_id < 2**63:
            raise KeyError(run_id)
        return store.run(run_id).id
    except KeyError:
        raise HTTPException(status_code=404, detail=f"no run {run_id}") from None


def _file(make: Callable[[Path], Path], name: str, media_type: str) -> FileResponse:
    """Write a download into a temporary folder, send it, remove the folder afterwards."""
    folder = tempfile.TemporaryDirectory(prefix="nanocell-serve-")
    try:
        path = make(Path(folder.name) / name)
    except UserError as exc:
        folder.cleanup()
        raise HTTPException(status_code=409, detail=str(exc)) from None
    except BaseException:
        folder.cleanup()
        raise
    return FileResponse(path, media_type=media_type, filename=name, background=BackgroundTask(folder.cleanup))


def create_app(store: Any, title: str = "nanocell monitor") -> FastAPI:
    """The monitor of ``store`` (an open ``Store``; the caller closes it). Offers no action: read-only."""
    app = FastAPI(title=title, docs_url=None, redoc_url=None, openapi_url="/api/openapi.json")
    app.mount("/assets", StaticFiles(directory=ASSETS), name="assets")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(ASSETS / "index.html", media_type="text/html")

    @app.get("/api/runs")
    def runs() -> list[dict[str, Any]]:
        return data.runs(store)

    @app.get("/api/runs/{run_id}")
    def run(run_id: int) -> dict[str, Any]:
        return data.run(store, _known(store, run_id))

    @app.get("/api/runs/{run_id}/cycling")
    def cycling(run_id: int, max_points: int = Query(data.MAX_POINTS, ge=10, le=20000)) -> dict[str, Any]:
        return data.cycling(store, _known(store, run_id), max_points)

    @app.get("/api/runs/{run_id}/iv")
    def iv(run_id: int) -> dict[str, Any]:
        return data.latest_iv(store, _known(store, run_id))

    @app.get("/api/runs/{run_id}/map")
    def raman_map(run_id: int) -> dict[str, Any]:
        return data.latest_map(store, _known(store, run_id))

    @app.get("/api/runs/{run_id}/events")
    def events(run_id: int, after: int = Query(0, ge=0)) -> list[dict[str, Any]]:
        return data.events(store, _known(store, run_id), after)

    @app.get("/api/queue")
    def queue() -> list[dict[str, Any]]:
        return data.queue(store)

    @app.get("/api/runs/{run_id}/report.png")
    def report(run_id: int) -> FileResponse:
        from nanocell_daq.analysis.report import write_report

        rid = _known(store, run_id)
        return _file(lambda p: write_report(store, rid, p), f"run{rid}-report.png", "image/png")

    @app.get("/api/runs/{run_id}/export.h5")
    def export(run_id: int) -> FileResponse:
        from nanocell_daq.analysis.export import export_run

        rid = _known(store, run_id)
        return _file(lambda p: export_run(store, rid, "hdf5", p)[0], f"run{rid}.h5", "application/x-hdf5")

    @app.exception_handler(UserError)
    def user_error(_request: Any, exc: UserError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=409)

    return app
