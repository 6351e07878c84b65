"""The shared rule for tests that need a part of the machine: fail in CI, skip elsewhere."""

from __future__ import annotations

import pytest

from tests.parts import in_ci, require


@pytest.mark.parametrize("value", ["true", "TRUE", "1", "yes"])
def test_a_missing_part_fails_in_ci(monkeypatch, value):
    monkeypatch.setenv("CI", value)
    assert in_ci()
    with pytest.raises(pytest.fail.Exception, match="CI=true and Xvfb is needed: no xvfb-run"):
        require("Xvfb", "no xvfb-run")


@pytest.mark.parametrize("value", [None, "", "false", "0"])
def test_a_missing_part_skips_with_its_reason_outside_ci(monkeypatch, value):
    if value is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.skip.Exception, match="PostgreSQL is needed: no initdb"):
        require("PostgreSQL", "no initdb")


def test_an_unknown_part_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown part 'Qt6'"):
        require("Qt6", "typo")
