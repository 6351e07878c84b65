"""docs/connecting-real-instruments.md: its station snippets load, its resources are VISA names, its options
exist in the drivers, its instrument names are the ones `nanocell station new` accepts."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
from pyvisa import rname

from drivers import registry
from nanocell_daq.station.loader import parse_station
from nanocell_daq.station.template import CHOICES

DOC = Path(__file__).resolve().parents[2] / "docs" / "connecting-real-instruments.md"
TEXT = DOC.read_text(encoding="utf-8")
SNIPPETS = re.findall(r"```yaml\n(.*?)```", TEXT, re.S)
CONNECTION = {"timeout_ms", "read_termination", "write_termination", "baud_rate", "visa_library"}


def test_there_is_a_snippet_per_driver():
    drivers = {inst.driver for text in SNIPPETS for inst in parse_station(text).instruments.values()}
    assert drivers == set(registry.DRIVERS)


@pytest.mark.parametrize("text", SNIPPETS, ids=[t.splitlines()[0] for t in SNIPPETS])
def test_snippet_loads_and_names_real_options(text):
    config = parse_station(text, "snippet.yaml")
    for name, inst in config.instruments.items():
        if not inst.resource.startswith(("andor:", "seabreeze:")):  # vendor-library back ends: not VISA
            rname.parse_resource_name(inst.resource)
        parameters = inspect.signature(registry.resolve(inst.driver).load().__init__).parameters
        for option in inst.options:
            assert option in CONNECTION or option in parameters, f"{name}: {inst.driver} has no {option!r}"
        if "baud_rate" in inst.options:
            assert inst.resource.startswith("ASRL")


def test_resource_examples_are_visa_resource_names():
    examples = set(re.findall(r"`((?:USB|TCPIP|GPIB|ASRL)[^`\s]*::[^`\s]*)`", TEXT))
    assert len(examples) >= 10
    for example in examples:
        if "<" in example:  # `TCPIP0::<host>::<port>::SOCKET`
            continue
        rname.parse_resource_name(example)


def test_valid_instrument_names_are_the_templates():
    line = next(line for line in TEXT.splitlines() if line.startswith("Valid names:"))
    assert set(re.findall(r"`(\w+)`", line)) == set(CHOICES)
