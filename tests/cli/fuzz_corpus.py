"""A deterministic corpus of mutated protocol and station files for fuzzing ``nanocell check``.

Built from the shipped protocols and ``tests/engine/station_si.yaml`` by a seeded mutator: byte flips,
truncation, NUL and control bytes, deep nesting, alias bombs, recursive aliases, huge numbers, NaN/inf,
label format strings, unicode, non-UTF-8 encodings, line edits, odd YAML tags and types, and mutations
that know the formats (repeat counts, map sizes, driver names, wiring channels).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from nanocell_daq.engine.protocol import shipped_protocols

STATION = Path(__file__).parents[1] / "engine" / "station_si.yaml"
SEED = 20261206
_NUMBER = re.compile(r"(?<![\w.$-])-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\w.])")
_VALUE = re.compile(r"(?<=: )[^\s{}\[\],#][^,}\]\n#]*")
_LABEL = re.compile(r'label: "?[^,}\n"]*"?')


@dataclass(frozen=True)
class Case:
    """One fuzz input: ``kind`` is "protocol" or "station"; ``family`` names the mutation."""

    name: str
    kind: str
    family: str
    data: bytes


def bomb(levels: int, fanout: int, indent: str = "  ") -> str:
    """A "billion laughs" block of anchors: ``fanout ** levels`` values once expanded."""
    lines = [f"{indent}l0: &l0 [{', '.join(['lol'] * fanout)}]"]
    for i in range(1, levels):
        lines.append(f"{indent}l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * fanout)}]")
    return "\n".join(lines) + "\n"


def _sub_random(rng: random.Random, pattern: re.Pattern[str], text: str, new: str) -> str:
    hits = list(pattern.finditer(text))
    if not hits:
        return text + new
    m = rng.choice(hits)
    return text[: m.start()] + new + text[m.end():]


def _insert(rng: random.Random, text: str, new: str) -> str:
    at = rng.randrange(len(text) + 1)
    return text[:at] + new + text[at:]


# ----------------------------------------------------------------------- mutations on any YAML file
def byte_flip(rng: random.Random, text: str, kind: str) -> bytes:
    data = bytearray(text.encode())
    for _ in range(rng.randint(1, 8)):
        i = rng.randrange(len(data))
        data[i] ^= 1 << rng.randrange(8)
    return bytes(data)


def truncate(rng: random.Random, text: str, kind: str) -> bytes:
    return text.encode()[: rng.randrange(len(text))]


def nul(rng: random.Random, text: str, kind: str) -> bytes:
    data = text.encode()
    at = 0 if rng.random() < 0.5 else rng.randrange(len(data))
    return data[:at] + b"\0" * rng.randint(1, 3) + data[at:]


def control(rng: random.Random, text: str, kind: str) -> str:
    char = rng.choice([*map(chr, range(1, 9)), "\x0b", "\x0c", "\x1b", "\x7f", "\x85", "\x9b", "\ufffe"])
    return _insert(rng, text, char)


def deep_flow(rng: random.Random, text: str, kind: str) -> str:
    n = rng.choice([41, 120, 1000, 20000])
    return _sub_random(rng, _VALUE, text, "[" * n + "1" + "]" * n)


def deep_block(rng: random.Random, text: str, kind: str) -> str:
    n = rng.choice([45, 200, 900])
    block = "".join(f"{'  ' * i}k{i}:\n" for i in range(n)) + "  " * n + "v: 1\n"
    return text + ("description:\n" if kind == "protocol" else "extra:\n") + "\n".join(
        "  " + line for line in block.splitlines()) + "\n"


def alias_bomb(rng: random.Random, text: str, kind: str) -> str:
    levels, fanout = rng.choice([(9, 9), (10, 10), (6, 40), (25, 2)])
    blob = bomb(levels, fanout, "    " if kind == "station" else "  ")
    if kind == "protocol":
        return text.replace("parameters:\n", "parameters:\n" + blob, 1)
    return text.replace("device:\n", f"device:\n  bomb:\n{blob}", 1)


def merge_bomb(rng: random.Random, text: str, kind: str) -> str:
    lines = ["  m0: &m0 {a: 1, b: 2, c: 3}"]
    for i in range(1, 12):
        lines.append(f"  m{i}: &m{i} {{<<: [*m{i - 1}], x{i}: [*m{i - 1}, *m{i - 1}, *m{i - 1}, *m{i - 1}]}}")
    blob = "\n".join(lines) + "\n"
    if kind == "protocol":
        return text.replace("parameters:\n", "parameters:\n" + blob, 1)
    return text.replace("device:\n", "device:\n" + blob, 1)


def recursive_alias(rng: random.Random, text: str, kind: str) -> str:
    value = rng.choice(["&r [1, *r]", "&r {a: *r}", "&r [[[*r]]]"])
    if kind == "protocol":
        return text.replace("parameters:\n", f"parameters:\n  loop: {value}\n", 1)
    return text.replace("device:\n", f"device:\n  loop: {value}\n", 1)


def huge_number(rng: random.Random, text: str, kind: str) -> str:
    new = rng.choice(["18446744073709551616", "1e400", "-1e400", "1.7976931348623157e308", "9" * 400,
                      "0x7fffffffffffffff", "1_000_000_000_000", "-0", "1e-400"])
    return _sub_random(rng, _NUMBER, text, new)


def nan(rng: random.Random, text: str, kind: str) -> str:
    new = rng.choice([".nan", ".NaN", ".inf", "-.inf", ".Inf", '"nan"', '"inf"', "'-inf'"])
    return _sub_random(rng, _NUMBER, text, new)


def unicode(rng: random.Random, text: str, kind: str) -> str:
    new = rng.choice(["\u202e", "\U0001f4a5", "\u2028", "\ufeff", "é", "\U0001f600" * 500, "e\u0301" * 50,
                      "\u00a0", "\u0000"[:0] + "ℵ₀", "𝒮"])
    return _insert(rng, text, new)


def non_utf8(rng: random.Random, text: str, kind: str) -> bytes:
    choice = rng.randrange(4)
    if choice == 0:
        return (text.replace("protocol:", "protocol: é", 1).replace("name:", "name: é", 1)).encode("latin-1")
    if choice == 1:
        return text.encode("utf-16")
    if choice == 2:
        data = text.encode()
        at = rng.randrange(len(data))
        return data[:at] + bytes([rng.choice([0x80, 0xC0, 0xFF, 0xFE, 0xED])]) + data[at:]
    return b"\xef\xbb\xbf" + text.encode() + b"\xc3"  # BOM, then a cut multi-byte character


def line_edit(rng: random.Random, text: str, kind: str) -> str:
    lines = text.splitlines()
    i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
    op = rng.randrange(4)
    if op == 0:
        del lines[i]
    elif op == 1:
        lines.insert(i, lines[j])
    elif op == 2:
        lines[i], lines[j] = lines[j], lines[i]
    else:
        lines[i] = (" " * rng.choice([1, 2, 3, 8])) + lines[i] if rng.random() < 0.5 else lines[i].lstrip()
    return "\n".join(lines) + "\n"


def odd_type(rng: random.Random, text: str, kind: str) -> str:
    new = rng.choice(["[1, 2]", "{a: 1}", "true", "null", "''", "!!binary aGVsbG8=", "!!timestamp 2001-12-14",
                      "!!set {a, b}", "!!python/object:os.system {}", "!!omap [a: 1]", "~", "!custom x",
                      "? complex\n  : key", "*undefined", "&dup 1", "|\n  multi\n  line", "[]", "{}"])
    return _sub_random(rng, _VALUE, text, new)


def documents(rng: random.Random, text: str, kind: str) -> str:
    return rng.choice(["", "# only a comment\n", "just a scalar\n", "- a\n- list\n", text + "---\n" + text,
                       "---\n...\n", "%YAML 1.1\n---\n" + text, "%TAG ! tag:x,2000:\n---\n" + text,
                       "{" * 5 + "\n", "'unclosed\n" + text])


# ------------------------------------------------------------------------ mutations that know the format
def label_format(rng: random.Random, text: str, kind: str) -> str:
    label = rng.choice(["{cycle:99999999}", "{cycle:9999999999999999999}", "{cycle.__class__}",
                        "{cycle.__class__.__mro__}", "{0}", "{}", "{cycle!r:>100}", "{cycle:{cycle}}", "{{",
                        "}", "{cycle[0]}", "{cycle:,}", "{cycle:x>30}", "{cycle:021d}", "{cycle:e}",
                        "{nope}", "x" * 5000, "{cycle:.9999999f}", "{cycle:%}", "label\\nnext"])
    return _sub_random(rng, _LABEL, text, f'label: "{label}"')


def repeat_counts(rng: random.Random, text: str, kind: str) -> str:
    op = rng.randrange(5)
    if op == 0:
        cycles = rng.choice(["18446744073709551616", "10001", "-1", "0", "2500"])
        return text.replace("cycles: 2", f"cycles: {cycles}")
    if op == 1:  # 10 000 cycles of 8 steps: 80 000 steps
        return text.replace("times: $cycles", "times: 10000")
    if op == 2:  # a repeat inside a repeat: 10 000 x 10 000 steps
        nested = ("  - repeat:\n      times: 10000\n      steps:\n        - repeat:\n"
                  "            times: 10000\n            steps:\n              - rest: {time_s: 1}\n")
        return text.rstrip("\n") + "\n" + nested
    if op == 3:
        return text.replace("times: $cycles", "times: $cycles\n      var: " + rng.choice(
            ['"a b"', "__class__", "[x]", "'{cycle}'", "x" * 100]))
    times = rng.choice(["2.5", "'3'", "true", "[2]", "$nope", "1e3"])
    return text.replace("times: $cycles", f"times: {times}")


def big_step(rng: random.Random, text: str, kind: str) -> str:
    step = rng.choice(["raman_map: {mode: area, nx: 100000, ny: 100000}", "iv: {points: 10001}",
                       "iv: {points: 99999999999999999999}", "raman_map: {nx: 18446744073709551616}",
                       "rest: {time_s: 1e7}", "cv: {cycles: 1000, step_V: 1e-6, scan_rate_V_s: 1e-6}",
                       "galvanostatic: {current_A: 1e-300, max_time_s: 1e8, interval_s: 1e-3}",
                       "iv: {pairs: [" + ", ".join(["S-D"] * 5000) + "]}",
                       "parallel: [" + ", ".join(["rest: {time_s: 1}"] * 50) + "]"])
    return text.rstrip("\n") + f"\n  - {step}\n"


def station_fields(rng: random.Random, text: str, kind: str) -> str:
    op = rng.randrange(6)
    if op == 0:
        return text.replace("driver: emstat4", "driver: " + rng.choice(
            ['"os:system"', '"nonexistent.module:Cls"', '"builtins:print"', '"a:b:c"', '"..:x"']))
    if op == 1:
        a, b = rng.choice([('"1C01", "1D02"', '"1A01", "1D02"'), ('"1C01", "1D02"', '"1C01", "1D04"'),
                           ('"1A01", "1B04"', '"1A01", "1C04"'), ('"1C01", "1D02"', '"1C01"'),
                           ('"1C01", "1D02"', '"1C01", "1C01"'), ('"1A01", "1B04"', '"9Z99", "1B04"')])
        return text.replace(a, b, 1)
    if op == 2:
        pads = rng.choice(["pads: [S]", "pads: [D, S]", "pads: [S, X]", "pads: S"])
        return text.replace("pads: [S, D]", pads)
    if op == 3:
        return text.replace("voltage_window_V: [2.4, 4.05]", "voltage_window_V: " + rng.choice(
            ["[4.05, 2.4]", "[2.4]", "[.nan, 4]", "[-1e400, 1e400]", "2.4"]))
    if op == 4:
        return text.replace("speed: 1000.0", "speed: " + rng.choice(["0", "-1", "1e400", "1e-320", "'fast'"]))
    return text.replace("z: [-50, 50]", "z: " + rng.choice(["[50, -50]", "[-1e308, 1e308]", "[.inf, 1]"]))


GENERIC: list[Callable[[random.Random, str, str], str | bytes]] = [
    byte_flip, truncate, nul, control, deep_flow, deep_block, alias_bomb, merge_bomb, recursive_alias,
    huge_number, nan, unicode, non_utf8, line_edit, odd_type, documents,
]
PROTOCOL_ONLY = [label_format, repeat_counts, big_step]
STATION_ONLY = [station_fields]


def corpus(n_protocol: int = 130, n_station: int = 85, seed: int = SEED) -> list[Case]:
    """``n_protocol + n_station`` cases, the same ones on every call (each family used in turn)."""
    rng = random.Random(seed)
    shipped = shipped_protocols()
    protocols = [shipped["si_seed"].read_text(encoding="utf-8")] + [
        p.read_text(encoding="utf-8") for name, p in shipped.items() if name != "si_seed"]
    station = STATION.read_text(encoding="utf-8")
    cases = []
    p_families = GENERIC + PROTOCOL_ONLY * 3  # the format-aware ones are where the engine's bounds live
    s_families = GENERIC + STATION_ONLY * 4
    for i in range(n_protocol):
        family = p_families[i % len(p_families)]
        base = protocols[0] if i % 4 else protocols[i // 4 % len(protocols)]
        cases.append(_case(f"protocol-{i:03d}-{family.__name__}", "protocol", family, rng, base))
    for i in range(n_station):
        family = s_families[i % len(s_families)]
        cases.append(_case(f"station-{i:03d}-{family.__name__}", "station", family, rng, station))
    return cases


def _case(name: str, kind: str, family: Callable[..., str | bytes], rng: random.Random, base: str) -> Case:
    out = family(rng, base, kind)
    data = out if isinstance(out, bytes) else out.encode("utf-8", "surrogatepass")
    return Case(name, kind, family.__name__, data)
