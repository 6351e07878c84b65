"""Suite-wide settings."""

from __future__ import annotations

import os
import tempfile


def pytest_configure(config) -> None:
    # CLI runs into a PostgreSQL URL log to $NANOCELL_LOG_DIR (else the working folder: the repository)
    os.environ.setdefault("NANOCELL_LOG_DIR", tempfile.mkdtemp(prefix="nanocell-test-logs-"))
