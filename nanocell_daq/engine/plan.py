"""Expand a protocol into a flat plan and check every step against a station, before anything is touched."""

from __future__ import annotations

import math
import re
import string
from dataclasses import dataclass, field
from typing import Any

from nanocell_daq.engine import capability_check
from nanocell_daq.engine.eta import plan_wall_s
from nanocell_daq.engine.protocol import ParallelBlock, Protocol, RepeatBlock, StepSpec
from nanocell_daq.engine.stationview import StationView
from nanocell_daq.errors import UserError
from nanocell_daq.suggest import closest, unknown_field
from nanocell_daq.yaml_input import one_line
from procedures import STEPS, Step


@dataclass
class PlanItem:
    """One step to run: position in the plan, label, cycle, the step with its parameters, and what it uses."""

    index: int
    kind: str
    label: str
    cycle: int | None
    step: Step
    spec: StepSpec
    on_fault: str
    group: int
    estimate_s: float = 0.0
    roles: set[str] = field(default_factory=set)
    wirings: list[str] = field(default_factory=list)
    instruments: set[str] = field(default_factory=set)
    pads: set[str] = field(default_factory=set)

    @property
    def parameters(self) -> dict[str, Any]:
        return self.step.parameters_dict()


@dataclass
class Plan:
    """The expanded protocol: items in order; items sharing ``group`` run in parallel."""

    protocol: Protocol
    station: StationView
    items: list[PlanItem]
    warnings: list[str] = field(default_factory=list)
    """What planning found the instruments do poorly (capability check); printed by check and run."""

    def groups(self) -> list[list[PlanItem]]:
        out: list[list[PlanItem]] = []
        for item in self.items:
            if out and out[-1][0].group == item.group:
                out[-1].append(item)
            else:
                out.append([item])
        return out

    def group_estimate_s(self, group: list[PlanItem]) -> float:
        return max(i.estimate_s for i in group)

    @property
    def total_s(self) -> float:
        return sum(self.group_estimate_s(g) for g in self.groups())


MAX_LABEL_WIDTH = 20
"""Widest field a label may pad a number to (``{cycle:03d}``)."""
_LABEL_SPEC = re.compile(r"^[<>^]?0?(\d{1,3})?d?$")


def _label(spec: StepSpec, variables: dict[str, int]) -> str:
    """The label of one plan item: ``spec.label`` with ``{cycle}``-style fields filled in.

    Fields are only the enclosing repeat variables, with at most a width (``{cycle:03d}``, width
    <= MAX_LABEL_WIDTH): no attribute or index access, no conversions, no nested fields.
    """
    if spec.label is None:
        inner = list(variables.values())
        return spec.kind + (f" {inner[-1]}" if inner else "")
    where = spec.where_field("label")
    try:
        fields = list(string.Formatter().parse(spec.label))
    except ValueError as exc:
        raise UserError(f"{where}: bad label template {spec.label!r}: {exc}") from None
    out = []
    for literal, name, fmt, conversion in fields:
        out.append(literal)
        if name is None:
            continue
        if name not in variables:
            known = ", ".join("{" + k + "}" for k in variables) or "none here (not inside a repeat)"
            raise UserError(f"{where}: unknown placeholder {{{name}}} (known: {known})")
        m = _LABEL_SPEC.match(fmt or "")
        if conversion or m is None or int(m.group(1) or 0) > MAX_LABEL_WIDTH:
            shown = "{" + name + (f"!{conversion}" if conversion else "") + (f":{fmt}" if fmt else "") + "}"
            raise UserError(f"{where}: label field {shown} not allowed: use {{{name}}} or a width up to "
                            f"{MAX_LABEL_WIDTH} such as {{{name}:03d}}")
        out.append(format(variables[name], fmt or ""))
    return "".join(out)


def _non_finite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, list | tuple):
        return any(_non_finite(v) for v in value)
    return False


def _make_step(spec: StepSpec, errors: list[str]) -> Step | None:
    cls = STEPS.get(spec.kind)
    if cls is None:
        close = closest(spec.kind, STEPS, substring=True)
        hint = f"did you mean {close}? " if close else ""
        errors.append(
            f"{spec.where(spec.kind)}: unknown step kind ({hint}known: {', '.join(sorted(STEPS))})"
        )
        return None
    try:
        step = cls.from_params(spec.params)
    except NameError as exc:
        name = str(exc)
        errors.append(
            f"{spec.where_field(name)}: {unknown_field(name, cls.parameter_names())}; parameters of "
            f"{spec.kind}: {', '.join(cls.parameter_names())}"
        )
    except ValueError as exc:
        name = str(exc).split(":", 1)[0]
        errors.append(f"{spec.where_field(name)}: {str(exc).split(': ', 1)[-1]}")
    except (TypeError, OverflowError):
        errors.append(_type_problem(cls, spec))
    else:
        # e.g. "nan" as text: the Parameter converts it and its range check lets it pass (some defaults are
        # NaN on purpose, "not given", so only what the protocol sets is checked)
        bad = [k for k, v in step.parameters_dict().items() if k in spec.params and _non_finite(v)]
        if not bad:
            return step
        for name in bad:
            shown = one_line(repr(spec.params[name]), 60)
            errors.append(f"{spec.where_field(name)}: must be a finite number, got {shown}")
    return None


def _type_problem(cls: type[Step], spec: StepSpec) -> str:
    """The parameter whose value has a type the step cannot take (a list for a number, ...)."""
    for name, value in spec.params.items():
        try:
            cls.from_params({name: value})
        except (TypeError, OverflowError):
            shown = type(value).__name__
            return f"{spec.where_field(name)}: a value of type {shown} does not fit this parameter"
        except (ValueError, NameError):
            continue
    return f"{spec.where(spec.kind)}: a parameter has a value of the wrong type"


def expand(protocol: Protocol, station: StationView) -> Plan:
    """The flat plan, every step validated against ``station``; all problems in one UserError."""
    errors: list[str] = []
    warnings: list[str] = []
    items: list[PlanItem] = []
    counter = {"group": 0}
    # A step's checks depend on its parameters and the station only, not on the repetition: a repeat of
    # 10 000 cycles checks each written step once.
    checked: dict[int, tuple[list[Any], Any, float]] = {}

    def add(spec: StepSpec, variables: dict[str, int], group: int) -> None:
        step = _make_step(spec, errors)
        if step is None:
            return
        try:
            label = _label(spec, variables)
        except UserError as exc:
            errors.append(str(exc))
            return
        if id(spec) not in checked:
            problems = step.check(station)
            checked[id(spec)] = (problems, step.needs(station), 0.0 if problems else step.estimate_s(station))
            if not problems:  # what the instruments can do, once the step itself is sound
                for found in _capability(spec, step, label, station):
                    (errors if found.level == "refuse" else warnings).append(
                        f"{spec.where_field(found.field)}: {found.message}")
        problems, needs, estimate_s = checked[id(spec)]
        for problem in problems:
            errors.append(f"{spec.where_field(problem.field)}: {problem.message}")
        instruments = {station.instrument_of(r) for r in needs.roles if r != "router"} - {None}
        pads = {p for w in needs.wirings if w in station.wirings for p in station.wirings[w].pads}
        cycle = list(variables.values())[-1] if variables else None
        items.append(
            PlanItem(
                index=len(items),
                kind=spec.kind,
                label=label,
                cycle=cycle,
                step=step,
                spec=spec,
                on_fault=spec.on_fault or protocol.on_fault,
                group=group,
                estimate_s=estimate_s,
                roles=set(needs.roles),
                wirings=list(needs.wirings),
                instruments=instruments,
                pads=pads,
            )
        )

    def walk(nodes: list[Any], variables: dict[str, int]) -> None:
        for node in nodes:
            if isinstance(node, RepeatBlock):
                for n in range(1, node.times + 1):
                    walk(node.body, {**variables, node.var: n})
            elif isinstance(node, ParallelBlock):
                counter["group"] += 1
                group = counter["group"]
                start = len(items)
                for spec in node.steps:
                    add(spec, variables, group)
                _check_parallel(node, items[start:], errors)
            else:
                counter["group"] += 1
                add(node, variables, counter["group"])

    walk(protocol.body, {})
    if errors:
        raise UserError("\n".join(dict.fromkeys(one_line(e) for e in errors)))
    roles = sorted({role for item in items for role in item.roles})
    undeclared = [found for role in roles if (found := capability_check.not_declared(station, role))]
    warnings[:0] = [f"{station.path}: {found.message}" for found in undeclared]
    return Plan(protocol=protocol, station=station, items=items,
                warnings=list(dict.fromkeys(one_line(w, 500) for w in warnings)))


def _capability(spec: StepSpec, step: Step, label: str, station: StationView) -> list[Any]:
    """The capability check's findings for one written step (a bad station option is a refusal)."""
    try:
        return capability_check.check_step(spec.kind, step.parameters_dict(), label, station)
    except ValueError as exc:  # a model option without a table: the station file names it
        return [capability_check.Finding("refuse", spec.kind, f"{station.path}: {exc}")]


def _check_parallel(block: ParallelBlock, members: list[PlanItem], errors: list[str]) -> None:
    """Refuse steps that would share an instrument, a pad, or need different router wirings."""
    for a_i, a in enumerate(members):
        for b in members[a_i + 1 :]:
            shared = a.instruments & b.instruments
            if shared:
                errors.append(
                    f"{b.spec.where(b.kind)}: cannot run in parallel with {a.kind!r} "
                    f"(line {a.spec.where.line}): both use instrument {', '.join(sorted(shared))}"
                )
            pads = a.pads & b.pads
            if pads:
                errors.append(
                    f"{b.spec.where(b.kind)}: cannot run in parallel with {a.kind!r} "
                    f"(line {a.spec.where.line}): both touch pad {', '.join(sorted(pads))}"
                )
    wirings = {w for m in members for w in m.wirings}
    if len(wirings) > 1:
        errors.append(
            f"{block.where('parallel')}: steps in a parallel block need one router wiring, "
            f"these need {', '.join(sorted(wirings))}"
        )


def fmt_duration(seconds: float) -> str:
    """``1 h 02 min``, ``3 min 05 s``, ``12.0 s``."""
    if math.isnan(seconds) or math.isinf(seconds):
        return "unbounded"
    s = round(seconds)
    if s >= 3600:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    if s >= 60:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{seconds:.1f} s"


def plan_table(plan: Plan) -> Any:
    """A rich Table: index, label, kind, key parameters, estimated duration (parallel groups marked)."""
    from rich.table import Table

    table = Table(title=f"{plan.protocol.name} on {plan.station.path}", show_lines=False)
    for col in ("#", "label", "kind", "parameters", "estimate"):
        table.add_column(col, justify="right" if col in ("#", "estimate") else "left")
    sizes: dict[int, int] = {}
    for item in plan.items:
        sizes[item.group] = sizes.get(item.group, 0) + 1
    for item in plan.items:
        kind = item.kind + (" (parallel)" if sizes[item.group] > 1 else "")
        table.add_row(str(item.index), item.label, kind, item.step.describe(), fmt_duration(item.estimate_s))
    speed = plan.station.speed
    total = f"total {fmt_duration(plan.total_s)}"
    if speed != 1:
        total += f" (simulated; about {fmt_duration(plan_wall_s(plan))} of wall time at speed {speed:g})"
    table.caption = total
    return table
