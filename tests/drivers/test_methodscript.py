"""Unit tests of the MethodSCRIPT codec (literals, data packages, error lines)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers import methodscript as ms


def test_readme_example_package():
    package = ms.decode_package("Pda84E63DAn;ba82AB973f,14,284\n")
    assert package.get("da") == pytest.approx(5.137e-3, abs=1e-6)
    assert package.get("ba") == pytest.approx(2.8e-9, rel=1e-3)
    current = package.variables[1]
    assert ms.status_text(current.status) == "underload"
    assert current.current_range == 0x84


def test_negative_value_and_nan():
    assert ms.decode_value(ms.encode_value(-3.2e-12, "f")) == pytest.approx(-3.2e-12)
    assert math.isnan(ms.decode_value("     nan"))


def test_get_prefers_measured_then_applied():
    line = "P" + ";".join([f"eb{ms.encode_value(2.5, 'm')}", f"da{ms.encode_value(3.0, 'm')}",
                           f"ab{ms.encode_value(3.7, 'u')}"])
    package = ms.decode_package(line)
    assert package.get("ab", "da") == pytest.approx(3.7)
    assert package.get("eb") == pytest.approx(2.5)
    assert package.get("ba") is None


def test_not_a_package_is_refused():
    with pytest.raises(ms.MethodScriptFormatError):
        ms.decode_package("M0000")
    with pytest.raises(ms.MethodScriptFormatError):
        ms.decode_package("Pda12")


@pytest.mark.parametrize(("value", "literal"), [
    (4.05, "4050m"), (1e-11, "10p"), (-1e-11, "-10p"), (0.1, "100m"), (3600, "3600"),
    (2.5, "2500m"), (0, "0"), (1e-9, "1n"), (5e-12, "5p"), (100e3, "100k"),
])
def test_si_literal(value, literal):
    assert ms.si_literal(value) == literal


@given(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False).filter(lambda v: v == 0 or abs(v) > 1e-15))
def test_si_literal_round_trips(value):
    text = ms.si_literal(value)
    number, prefix = (text, "") if text[-1].isdigit() else (text[:-1], text[-1])
    factor = 1.0 if prefix == "" else ms.SI_PREFIXES[prefix]
    assert int(number) * factor == pytest.approx(value, rel=1e-6, abs=1e-18)


def test_error_lines():
    assert ms.find_error("!0003: Line 5") == (3, "Line 5")
    assert ms.find_error("e!0009")[0] == 9
    assert ms.find_error("Z!0006")[1]
    assert ms.find_error("Pda84E63DAn") is None
