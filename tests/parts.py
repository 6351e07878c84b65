"""Tests that need a part of the machine (Qt, Xvfb, PostgreSQL, Chromium, the vendor libraries the
spectrometer back ends' contract tests check): fail in CI, skip elsewhere.

``require(part, reason)`` is called by a test (or fixture) when ``part`` is missing. With ``CI=true`` (as
``.ci/run`` runs) the test FAILS, naming the part: CI installs everything its tests need, so a missing part
there is a broken CI, not a reason to go green with the test unrun. Outside CI the test is skipped with the
reason, so a developer without, say, PostgreSQL still runs the rest.
"""

from __future__ import annotations

import os

import pytest

PARTS = ("Qt", "Xvfb", "PostgreSQL", "Chromium", "pylablib", "seabreeze")


def in_ci() -> bool:
    """True when the CI environment variable says so (``true``/``1``/``yes``, any case)."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def require(part: str, reason: str) -> None:
    """``part`` is missing because of ``reason``: fail in CI, skip (with the reason) elsewhere."""
    if part not in PARTS:
        raise ValueError(f"unknown part {part!r} (known: {', '.join(PARTS)})")
    message = f"{part} is needed: {reason}"
    if in_ci():
        pytest.fail(f"CI=true and {message} (.ci/run must install it)", pytrace=False)
    pytest.skip(message)
