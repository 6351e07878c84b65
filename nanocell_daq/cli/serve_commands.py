"""``nanocell serve``: the read-only web monitor of a run database."""

from __future__ import annotations

import typer

from nanocell_daq.errors import UserError


def serve(
    db: str = typer.Option(..., "--db", help="Run database (path or SQLAlchemy URL)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on (default: this host only)."),
    port: int = typer.Option(8765, "--port", help="TCP port (0: any free port)."),
) -> None:
    """Serve a read-only monitor: runs with liveness, the current run's plots and events, the queue, each
    finished run's report and export; JSON under /api/."""
    from nanocell_daq.storage import Store
    from nanocell_daq.web.serve import is_loopback, make_server

    if not 0 <= port <= 65535:
        raise UserError(f"--port: between 0 and 65535, got {port}")
    store = Store.open(db, create=False)
    try:
        try:
            server, sock = make_server(store, host, port)
        except OSError as exc:
            why = exc.strerror or exc
            raise UserError(f"--host {host} --port {port}: cannot listen there ({why})") from None
        if not is_loopback(host):
            typer.echo(f"warning: listening on {host}: anyone who can reach it reads the runs (read-only)",
                       err=True)
        bound = sock.getsockname()
        typer.echo(f"nanocell monitor of {db} on http://{host}:{bound[1]}/ (Ctrl-C stops)", err=True)
        server.run(sockets=[sock])
    finally:
        store.close()


def register(app: typer.Typer) -> None:
    """Add ``nanocell serve``."""
    app.command("serve")(serve)
