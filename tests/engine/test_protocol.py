"""Protocol parsing: repeats, labels, parameters, parallel blocks, and errors naming file:line:field."""

from __future__ import annotations

import textwrap

import pytest

from nanocell_daq.engine.plan import expand
from nanocell_daq.engine.protocol import load_protocol, parse_protocol, shipped_protocols, with_parameters
from nanocell_daq.errors import UserError


def _p(text: str, **overrides):
    return parse_protocol(textwrap.dedent(text), "p.yaml", overrides or None)


def test_repeat_expands_with_cycle_labels_and_parameters(station):
    proto = _p("""
        protocol: t
        parameters: {cycles: 3, i: 2.0e-11}
        steps:
          - iv: {label: pristine}
          - repeat:
              times: $cycles
              steps:
                - galvanostatic: {label: "charge {cycle}", current_A: $i}
                - galvanostatic: {label: "discharge {cycle}", current_A: -$i}
        """)
    plan = expand(proto, station)
    assert [i.label for i in plan.items] == [
        "pristine",
        "charge 1",
        "discharge 1",
        "charge 2",
        "discharge 2",
        "charge 3",
        "discharge 3",
    ]
    assert [i.cycle for i in plan.items] == [None, 1, 1, 2, 2, 3, 3]
    assert plan.items[2].parameters["current_A"] == -2e-11
    assert plan.total_s > 0


def test_override_changes_number_of_cycles(station):
    path = shipped_protocols()["si_seed"]
    two = expand(load_protocol(path), station)
    three = expand(load_protocol(path, {"cycles": "3"}), station)
    assert len(three.items) - len(two.items) == 8


def test_unknown_override_is_refused():
    with pytest.raises(UserError, match=r"parameters\.nope"):
        load_protocol(shipped_protocols()["si_seed"], {"nope": "1"})


def test_with_parameters_keeps_comments_and_sets_value():
    text = shipped_protocols()["si_seed"].read_text()
    out = with_parameters(text, {"cycles": 5})
    assert "# number of full cycles" in out
    assert parse_protocol(out).parameters["cycles"] == 5


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("steps:\n  - iv: {v_max_V: 0.5, bogus: 1}\n", "p.yaml:2: iv.bogus: unknown parameter"),
        ("steps:\n  - iv:\n      points: -3\n", "p.yaml:3: iv.points"),
        ("steps:\n  - dance: {}\n", "p.yaml:2: dance: unknown step kind"),
        ("steps:\n  - repeat:\n      times: 0\n      steps: [{iv: {}}]\n", "p.yaml:3: repeat.times"),
        ("steps:\n  - iv: {label: 'x {cyc}'}\n", "p.yaml:2: iv.label: unknown placeholder {cyc}"),
        ("steps:\n  - iv: {compliance_A: $c}\n", "p.yaml:2: iv.compliance_A: unknown parameter $c"),
        ("on_fault: maybe\nsteps:\n  - iv: {}\n", "p.yaml:1: on_fault"),
        ("steps:\n  - iv: {v_max_V: [1\n", "p.yaml:3: YAML syntax error"),
    ],
)
def test_errors_name_file_line_field(station, text, where):
    with pytest.raises(UserError) as info:
        expand(parse_protocol(text, "p.yaml"), station)
    assert where in str(info.value)


def test_both_shipped_protocols_parse():
    names = shipped_protocols()
    assert {"si_seed", "h2v3o8_shallow_deep"} <= set(names)
    for path in names.values():
        assert load_protocol(path).body
