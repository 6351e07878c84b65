"""Run the monitor with uvicorn: localhost by default; a warning when bound to another interface."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import uvicorn

from nanocell_daq.web.app import create_app


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def make_server(
    store: Any, host: str = "127.0.0.1", port: int = 8765
) -> tuple[uvicorn.Server, socket.socket]:
    """A uvicorn server for ``store`` and its bound socket (``port`` 0: any free port)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    config = uvicorn.Config(create_app(store), log_level="warning", access_log=False, lifespan="off")
    return uvicorn.Server(config), sock
