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
        ("steps:\n  - iv: {v_max_V: 0.5, bogus: 1}\n", "p.yaml:2: iv.bogus: unknown field 'bogus'"),
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


# ----------------------------------------------------------------------------------- input hardening
SEED = shipped_protocols()["si_seed"]


def _refused(text: str, station=None, **overrides) -> str:
    with pytest.raises(UserError) as info:
        proto = _p(text, **overrides)
        if station is not None:
            expand(proto, station)
    return str(info.value)


@pytest.mark.parametrize(
    ("value", "shown"),
    [(".nan", ".nan"), (".NaN", ".nan"), (".inf", ".inf"), ("-.inf", "-.inf"), ("1e400", ".inf")],
)
def test_nan_and_inf_are_refused_with_file_line_field(value, shown):
    message = _refused(f"""
        protocol: t
        steps:
          - rest: {{time_s: 10}}
          - galvanostatic: {{current_A: {value}, v_max_V: 3.9}}
        """)
    assert message == f"p.yaml:5: steps.1.galvanostatic.current_A: must be a finite number, got {shown}"


def test_nan_as_text_and_through_a_parameter_is_refused(station):
    message = _refused("""
        protocol: t
        parameters: {v: "nan"}
        steps:
          - galvanostatic: {current_A: 1.0e-11, v_max_V: $v}
        """, station)
    assert message == "p.yaml:5: galvanostatic.v_max_V: must be a finite number, got 'nan'"
    assert _refused("""
        protocol: t
        parameters: {v: .nan}
        steps:
          - rest: {time_s: 10}
        """) == "p.yaml:3: parameters.v: must be a finite number, got .nan"


def test_nan_from_the_command_line_is_refused():
    with pytest.raises(UserError, match=r"^--set current_A: must be a finite number, got -\.inf$"):
        load_protocol(SEED, {"current_A": "-.inf"})


@pytest.mark.parametrize("times", ["18446744073709551616", "10001"])
def test_repeat_times_is_bounded(times):
    message = _refused(f"""
        protocol: t
        steps:
          - repeat:
              times: {times}
              steps:
                - rest: {{time_s: 1}}
        """)
    assert message == f"p.yaml:5: repeat.times: at most 10000 repetitions, got {times}"


def test_plan_size_is_bounded_before_anything_is_expanded():
    message = _refused("""
        protocol: t
        steps:
          - rest: {time_s: 1}
          - repeat:
              times: 10000
              steps:
                - repeat:
                    times: 10000
                    steps:
                      - rest: {time_s: 1}
        """)
    assert message == ("p.yaml:5: repeat.times: the protocol expands to more than 20000 steps (100000001); "
                       "split it into several runs")
    with pytest.raises(UserError, match="more than 20000 steps"):
        load_protocol(SEED, {"cycles": "2501"})  # 8 steps per cycle


@pytest.mark.parametrize(
    "label",
    ["{cycle:99999999}", "{cycle:21}", "{cycle.__class__}", "{cycle!r}", "{cycle:{cycle}}", "{cycle[0]}",
     "{0}", "{}", "{cycle:,}", "{cycle:.9f}"],
)
def test_label_fields_are_restricted_to_variables_with_a_bounded_width(station, label):
    message = _refused(f"""
        protocol: t
        steps:
          - repeat:
              times: 2
              steps:
                - rest: {{label: "{label}", time_s: 1}}
        """, station)
    assert message.startswith("p.yaml:7: rest.label: ")
    assert "not allowed" in message or "unknown placeholder" in message, message


def test_allowed_label_widths_still_format(station):
    proto = _p("""
        protocol: t
        steps:
          - repeat:
              times: 2
              var: n
              steps:
                - rest: {label: "rest {n:03d}|{n:>4}|{n}", time_s: 1}
        """)
    assert [i.label for i in expand(proto, station).items] == ["rest 001|   1|1", "rest 002|   2|2"]


def test_label_length_and_repeat_variable_are_bounded():
    assert _refused(f"""
        protocol: t
        steps:
          - rest: {{label: "{'x' * 201}", time_s: 1}}
        """) == "p.yaml:4: rest.label: at most 200 characters, got 201"
    assert "repeat.var: must be a name" in _refused("""
        protocol: t
        steps:
          - repeat: {times: 2, var: "a b", steps: [rest: {time_s: 1}]}
        """)


def bomb(levels: int, fanout: int) -> str:
    lines = [f"  l0: &l0 [{', '.join(['lol'] * fanout)}]"]
    lines += [f"  l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * fanout)}]" for i in range(1, levels)]
    return "\n".join(lines)


def test_alias_bomb_is_refused_before_it_is_expanded():
    # 10**6 values once expanded (a broken guard costs ~100 MB here; the fuzz test caps the real bombs)
    text = f"protocol: t\nparameters:\n{bomb(6, 10)}\nsteps:\n  - rest: {{time_s: 1}}\n"
    with pytest.raises(UserError) as info:
        parse_protocol(text, "p.yaml")
    # line 7: the anchor whose expansion passes 100 000 values (l4: 111 111)
    assert str(info.value) == ("p.yaml:7: aliases expand this document to more than 100000 values "
                               "(an alias bomb?)")


def test_ordinary_anchors_still_work(station):
    proto = _p("""
        protocol: t
        parameters: {iv: &iv {v_max_V: 0.2, points: 5}}
        steps:
          - iv: {<<: *iv, label: first}
          - iv: *iv
        """)
    assert [i.parameters["points"] for i in expand(proto, station).items] == [5, 5]


def test_recursive_alias_is_refused():
    assert _refused("""
        protocol: t
        parameters: {loop: &r [1, *r]}
        steps: [rest: {time_s: 1}]
        """) == "p.yaml:3: recursive alias (a value that contains itself)"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("protocol: t\nsteps: " + "[" * 3000 + "]" * 3000 + "\n",
         "p.yaml:2: YAML syntax error: nested more than 40 levels deep"),
        ("\0protocol: t\n", "p.yaml:1: NUL U+0000 at column 1 is not allowed in a YAML file"),
        ('steps: [rest: {label: "a\x1bb"}]\n', "p.yaml:1: ESC U+001B at column 25 is not allowed"),
        ('steps: [rest: {label: "a\x07b"}]\n', "p.yaml:1: control character U+0007 at column 25"),
    ],
)
def test_deep_nesting_and_control_bytes_give_one_line(text, message):
    with pytest.raises(UserError) as info:
        parse_protocol(text, "p.yaml")
    assert str(info.value).startswith(message) and "\n" not in str(info.value)


def test_non_utf8_and_oversized_files_name_the_file(tmp_path):
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(SEED.read_text().replace("protocol: Si", "protocol: Si \xe9").encode("latin-1"))
    with pytest.raises(UserError, match=r"latin\.yaml:4: not UTF-8 text \(byte 0xe9\); save it as UTF-8$"):
        load_protocol(latin)
    big = tmp_path / "big.yaml"
    big.write_text("protocol: t\n" + "# padding\n" * 120_000)
    with pytest.raises(UserError, match=r"big\.yaml: larger than 1000 kB"):
        load_protocol(big)
