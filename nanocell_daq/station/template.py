"""A commented station-file template for a chosen set of instruments (``nanocell station new``).

Everything the user must decide (VISA resources, the chip, matrix channels, device limits) is written as a
placeholder ``"<FILL IN: ...>"``; the loader refuses a file that still holds one, naming its line
(:func:`placeholder_problems`), so an unfilled template can never be run.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from nanocell_daq.errors import UserError

PLACEHOLDER = "<FILL IN"
"""Every placeholder value starts with this."""


@dataclass(frozen=True)
class Choice:
    """One instrument the template can hold: its instrument name, driver, roles and connection notes."""

    key: str
    instrument: str
    driver: str
    roles: tuple[str, ...]
    resource_example: str
    notes: tuple[str, ...]
    options: str = ""


CHOICES: dict[str, Choice] = {c.key: c for c in (
    Choice("2450", "smu", "keithley2450", ("source_meter", "galvanostat"),
           "USB0::0x05E6::0x2450::<serial>::INSTR or TCPIP0::<ip>::5025::SOCKET",
           ("Keithley 2450 SourceMeter in its SCPI command set (*LANG? must answer SCPI).",
            "Driver defaults: \\n terminations, 10 s timeout.")),
    Choice("2600b", "smu", "keithley2600", ("source_meter", "galvanostat"),
           "USB0::0x05E6::0x2636::<serial>::INSTR or TCPIP0::<ip>::5025::SOCKET",
           ("Keithley 2600B (2636B, 2635B, 2602B...) over TSP; channel: a or b is the SMU channel used.",
            "Driver defaults: \\n terminations, 10 s timeout. It cycles too (galvanostat: a TSP script keeps",
            "the cut-offs on the instrument; the 2636B sources down to its 1 nA range, for pA cycling).",
            "model: as *IDN? names it (the capability check compares each step with its ranges)."),
           "options: {channel: a, model: " + '"<FILL IN: 2636B, 2635B, 2602B...>"' + "}"),
    Choice("emstat4", "pstat", "emstat4", ("potentiostat", "galvanostat"),
           "ASRL/dev/ttyUSB0::INSTR (Linux) or ASRL3::INSTR (COM3)",
           ("PalmSens EmStat4 over MethodSCRIPT: USB virtual COM port, 921600 baud, \\n terminations (driver",
            "defaults). model: es4_lr (1 nA and 10 nA ranges, +-3 V) or es4_hr (from 100 nA, +-6 V); it must",
            "match the instrument (the driver refuses the other model)."),
           "options: {model: " + '"<FILL IN: es4_lr or es4_hr>"' + "}"),
    Choice("707b", "matrix", "keithley707b", ("router",),
           "USB0::0x05E6::0x707B::<serial>::INSTR, TCPIP0::<ip>::5025::SOCKET or GPIB0::<address>::INSTR",
           ("Keithley 707B switch matrix over TSP. Driver defaults: \\n terminations, 5 s timeout.",)),
    Choice("proscan", "stage", "proscan3", ("stage",),
           "ASRL/dev/ttyUSB1::INSTR (Linux) or ASRL4::INSTR (COM4)",
           ("Prior ProScan III: RS-232 or USB virtual COM port, 9600 baud, \\r terminations",
            "(driver defaults). um_per_unit (option) converts controller units to micrometres",
            "(1 at the default resolution).")),
    Choice("sc10", "shutter", "sc10", ("shutter",),
           "ASRL/dev/ttyUSB2::INSTR (Linux) or ASRL5::INSTR (COM5)",
           ("Thorlabs SC10 shutter controller: RS-232 or USB virtual COM port, 9600 baud, \\r terminations",
            "(driver defaults). timed_exposure: false keeps the controller in manual mode."),
           "options: {timed_exposure: true}"),
    Choice("spectrometer", "spectrometer", "nanocell_spectrometer", ("spectrometer", "laser"),
           "TCPIP0::<ip>::<port>::SOCKET",
           ("nanocell_spectrometer speaks the emulator's own documented dialect",
            "(simulated_instruments/spectrometer.md), not a real instrument's protocol: on a real",
            "bench put a driver for your spectrometer here (package.module:Class).")),
)}
"""``--instruments`` names -> what the template writes for them."""

SMU_KEYS = ("2450", "2600b")


def parse_choice(text: str) -> list[str]:
    """``"2450,emstat4,707b"`` -> the keys in order; UserError (one line) for an unknown or repeated name."""
    keys = [part.strip().lower() for part in text.split(",") if part.strip()]
    valid = ", ".join(CHOICES)
    if not keys:
        raise UserError(f"--instruments: name at least one instrument (valid: {valid})")
    unknown = [k for k in keys if k not in CHOICES]
    if unknown:
        raise UserError(f"--instruments: unknown instrument {', '.join(map(repr, unknown))} (valid: {valid})")
    if len(set(keys)) != len(keys):
        raise UserError(f"--instruments: an instrument is named twice ({text.strip()})")
    smus = [k for k in keys if k in SMU_KEYS]
    if len(smus) > 1:
        raise UserError(f"--instruments: {' and '.join(smus)} are both the source meter: choose one")
    return keys


def _fill(what: str) -> str:
    return f'"{PLACEHOLDER}: {what}>"'


def render(keys: Sequence[str]) -> str:
    """The commented station YAML for the instruments ``keys`` (names from :data:`CHOICES`)."""
    chosen = [CHOICES[k] for k in keys]
    names = {c.key: c.instrument for c in chosen}
    smu = next((names[k] for k in SMU_KEYS if k in names), None)
    pstat = names.get("emstat4")
    roles: dict[str, str] = {}
    for c in chosen:
        for role in c.roles:
            if role == "galvanostat" and c.key == "2450" and pstat:
                continue  # the potentiostat cycles; the SMU measures conductance
            if role == "galvanostat" and c.key == "2600b":
                roles["galvanostat"] = c.instrument  # pA cycling: the 2600B before an EmStat
                continue
            roles.setdefault(role, c.instrument)
    cycler = roles.get("galvanostat") or roles.get("potentiostat")
    out = [
        "# Station file written by `nanocell station new` (reference: docs/station-file.md).",
        f"# Replace every {PLACEHOLDER}: ...> value; the loader refuses the file until none is left.",
        "# A station file is trusted code: a driver named package.module:Class is imported when the station",
        "# is opened (nanocell run, resume, station check, the GUI).",
        "# Then: nanocell station check THIS_FILE   (connects, identifies, checks roles and wirings).",
        "name: " + _fill("a name for this probe station"),
        "",
        "instruments:",
    ]
    for c in chosen:
        out.append(f"  # {c.key}: {c.notes[0]}")
        out += [f"  #   {line}" for line in c.notes[1:]]
        out.append(f"  #   resource examples: {c.resource_example}")
        out.append(f"  {c.instrument}:")
        out.append(f"    driver: {c.driver}")
        out.append("    resource: " + _fill(f"VISA resource of the {c.key}"))
        if c.options:
            out.append(f"    {c.options}")
    out += ["", "# Which instrument fills which role (drivers/roles.py).", "roles:"]
    out += [f"  {role}: {inst}" for role, inst in roles.items()]
    out += [
        "",
        "# The chip under test; unknown keys are kept and stored with every run.",
        "device:",
        "  chip: " + _fill("chip identifier"),
        "  # wire: Si/a-Si core/shell nanowire",
        "  # nominal_capacity_Ah: 3.0e-16",
        "  # wire_position_um: {start: [100.0, 200.0], end: [110.0, 200.0], z: 0.0}",
        "  # si_reference_um: {x: 60.0, y: 200.0, z: 0.0}  # a Si piece, for si_seed's raman_reference",
        "",
        "# Chip pads: contacts on the wire (along_wire_um from its start), the counter film, a reference.",
        "pads:",
        "  S:  {kind: contact, along_wire_um: 0.0}",
        "  D:  {kind: contact, along_wire_um: 10.0}",
        "  CE: {kind: counter}",
    ]
    wirings: list[tuple[str, str, tuple[str, str]]] = []
    if "router" in roles:
        galvanostat, potentiostat = roles.get("galvanostat"), roles.get("potentiostat")
        if galvanostat and potentiostat and galvanostat != potentiostat:  # each cycler its own wiring
            wirings.append((f"cycling:{galvanostat}", galvanostat, ("S", "CE")))
            wirings.append(("cycling", potentiostat, ("S", "CE")))
        elif cycler:
            wirings.append(("cycling", cycler, ("S", "CE")))
        if smu:
            wirings.append(("conductance:S-D", smu, ("S", "D")))
    if wirings:
        out += [
            "",
            "# Named wirings: channel i connects the instrument to pad i (707B channel: slot, row A-H,",
            "# column 01-12, e.g. 1A01). A matrix row is one instrument terminal, a column is one pad in",
            "# every wiring.",
            "wirings:",
        ]
        for name, inst, pads in wirings:
            channels = ", ".join(_fill(f"matrix channel {inst} -> pad {pad}") for pad in pads)
            out.append(f'  "{name}":')
            out.append(f"    instrument: {inst}")
            out.append(f"    channels: [{channels}]")
            out.append(f"    pads: [{', '.join(pads)}]")
    out += ["", "# Device limits, checked before anything turns on and during the run (units in the names)."]
    limits_at = len(out)
    if cycler:
        out += ["  cycling:",
                "    max_current_A: " + _fill("largest |I| through the cell, A, at most 0.1"),
                "    voltage_window_V: [" + _fill("lowest cell voltage, V") + ", "
                + _fill("highest cell voltage, V") + "]"]
    conductance = [w for w in wirings if w[0].startswith("conductance")]
    if conductance:
        out.append("  wirings:")
        for name, _, _ in conductance:
            out += [f'    "{name}":',
                    "      max_current_A: " + _fill("largest |I| of an I-V on this wiring, A"),
                    "      max_voltage_V: " + _fill("largest |V| of an I-V on this wiring, V")]
    if "laser" in roles:
        out.append("  max_laser_power_mW: " + _fill("largest laser power at the sample, mW"))
    if "stage" in roles:
        out += ["  stage_travel_um:",
                "    x: [" + _fill("x low, um") + ", " + _fill("x high, um") + "]",
                "    y: [" + _fill("y low, um") + ", " + _fill("y high, um") + "]",
                "    # z: [-50, 50]"]
    none = "limits: {}  # none applies to these instruments"
    out.insert(limits_at, "limits:" if len(out) > limits_at else none)
    out += ["",
            "# Several devices on this chip? Move pads, wirings and limits under devices: <name>:",
            "# (shared pads, e.g. the counter film, stay under pads:) and run with --device NAME",
            "# (docs/station-file.md).",
            "# Notifications (apprise URLs: mailto://, slack://, ntfy://, json://...):",
            "# notify:",
            "#   urls: [\"ntfy://ntfy.sh/my-bench\"]"]
    return "\n".join(out) + "\n"


def _walk(node: Any, loc: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, (*loc, str(key)))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, (*loc, i))
    else:
        yield loc, node


def placeholder_problems(data: Any) -> list[tuple[tuple[str | int, ...], str]]:
    """Every value of a loaded station document that is still a template placeholder."""
    return [(loc, f"still a template placeholder: {value}")
            for loc, value in _walk(data) if isinstance(value, str) and value.startswith(PLACEHOLDER)]
