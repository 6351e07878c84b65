#!/usr/bin/env python3
"""Mutation testing of the safety-critical modules: does a test fail when the code is wrong?

Each mutant changes one thing in one module (a comparison flipped, ``and``/``or`` swapped, a condition
negated, a constant nudged, an arithmetic operator swapped, a call statement removed, ``return x`` made
``return None``) and runs the tests related to that module (``RELATED`` below) on a scratch copy of the tree.
A mutant is *killed* when a test fails, *survived* when they all pass, *timeout* when they run past the
per-mutant limit (a mutant that loops), *error* when the mutated file does not even compile (not counted).
Prints the score per module and every survivor (file:line, what changed), last line one JSON object.

The work tree is never written: the tree is copied to a temporary folder once, each mutant is written there
and the original put back after its run. Not part of the default test run (it takes minutes to hours):

    python tools/mutate.py                                  # every module, every mutant
    python tools/mutate.py --sample 40 --seed 1             # 40 random mutants per module
    python tools/mutate.py --module nanocell_daq/station/limits.py --list   # the mutants, nothing run
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# module -> the tests that should notice a change in it (fast ones where there is a choice)
RELATED: dict[str, list[str]] = {
    "nanocell_daq/engine/runner.py": [
        "tests/engine/test_safety_layers.py",
        "tests/engine/test_refused.py",
        "tests/engine/test_parallel_control.py",
    ],
    "nanocell_daq/engine/resume.py": ["tests/engine/test_resume.py", "tests/engine/test_recovery.py"],
    "nanocell_daq/engine/recovery.py": [
        "tests/engine/test_recovery.py",
        "tests/analysis/test_resumed_attempts.py",
    ],
    "nanocell_daq/engine/lease.py": ["tests/engine/test_lease.py", "tests/engine/test_fencing.py"],
    "nanocell_daq/engine/guard.py": [
        "tests/engine/test_guard.py",
        "tests/engine/test_guard_locks.py",
        "tests/engine/test_safety.py",
    ],
    "nanocell_daq/engine/safety.py": ["tests/engine/test_safety.py", "tests/engine/test_safety_layers.py"],
    "drivers/routing.py": ["tests/drivers/test_routing.py", "tests/drivers/test_keithley707b.py"],
    "nanocell_daq/station/limits.py": ["tests/station/test_limits.py"],
    "nanocell_daq/storage/writer.py": [
        "tests/storage/test_writer.py",
        "tests/storage/test_roundtrip.py",
        "tests/storage/test_portability.py",
        "tests/storage/test_processes.py",
    ],
    "nanocell_daq/analysis/iv.py": ["tests/analysis/test_iv.py"],
    "nanocell_daq/analysis/cycling.py": ["tests/analysis/test_cycling.py"],
    "nanocell_daq/analysis/raman.py": ["tests/analysis/test_raman.py"],
    "nanocell_daq/analysis/export.py": [
        "tests/analysis/test_export.py",
        "tests/analysis/test_export_values.py",
    ],
}

_CMP_SWAP: dict[type, list[type]] = {
    ast.Lt: [ast.LtE, ast.Gt],
    ast.LtE: [ast.Lt, ast.GtE],
    ast.Gt: [ast.GtE, ast.Lt],
    ast.GtE: [ast.Gt, ast.LtE],
    ast.Eq: [ast.NotEq],
    ast.NotEq: [ast.Eq],
    ast.In: [ast.NotIn],
    ast.NotIn: [ast.In],
    ast.Is: [ast.IsNot],
    ast.IsNot: [ast.Is],
}
_BIN_SWAP: dict[type, type] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
    ast.FloorDiv: ast.Mult,
    ast.Mod: ast.FloorDiv,
    ast.Pow: ast.Mult,
}


@dataclass
class Mutant:
    module: str
    index: int
    line: int
    what: str
    start: tuple[int, int]
    end: tuple[int, int]
    replacement: str


@dataclass
class Outcome:
    module: str
    index: int
    line: int
    what: str
    status: str  # killed | survived | timeout | error
    seconds: float


def _segment(node: ast.AST) -> tuple[tuple[int, int], tuple[int, int]]:
    return (node.lineno, node.col_offset), (node.end_lineno, node.end_col_offset)  # type: ignore[attr-defined]


def _skipped(tree: ast.Module) -> set[int]:
    """ids of nodes never mutated: docstrings, annotations, f-string parts, decorators, default values of
    dataclass fields' types and ``__all__``."""
    skip: set[int] = set()

    def mark(node: ast.AST | None) -> None:
        if node is not None:
            for sub in ast.walk(node):
                skip.add(id(sub))

    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        first = body[0] if isinstance(body, list) and body else None
        if isinstance(first, ast.Expr) and isinstance(getattr(first.value, "value", None), str):
            mark(first)  # a docstring
        if isinstance(node, ast.AnnAssign):
            mark(node.annotation)
        if isinstance(node, ast.arg):
            mark(node.annotation)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            mark(node.returns)
            for d in node.decorator_list:
                mark(d)
        if isinstance(node, ast.JoinedStr):
            mark(node)
        if isinstance(node, ast.ImportFrom | ast.Import):
            mark(node)
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            mark(node)
    return skip


def _is_log_call(node: ast.Call) -> bool:
    """Calls that only report (log/echo/warn): removing them is not a fault worth a test of its own."""
    f = node.func
    name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
    return name in ("log", "echo", "debug", "info", "print", "warn", "warning")


def find_mutants(module: str, source: str) -> list[Mutant]:
    tree = ast.parse(source)
    skip = _skipped(tree)
    out: list[Mutant] = []

    def add(node: ast.AST, what: str, replacement: str) -> None:
        start, end = _segment(node)
        out.append(Mutant(module, len(out), node.lineno, what, start, end, replacement))  # type: ignore[attr-defined]

    def expr(node: ast.AST) -> str:
        return f"({ast.unparse(node)})"

    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Compare):
            for k, op in enumerate(node.ops):
                for new in _CMP_SWAP.get(type(op), []):
                    ops = list(node.ops)
                    ops[k] = new()
                    mutated = ast.Compare(left=node.left, ops=ops, comparators=node.comparators)
                    add(node, f"{type(op).__name__} -> {new.__name__}: {ast.unparse(node)}", expr(mutated))
        elif isinstance(node, ast.BoolOp):
            new_op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
            add(
                node,
                f"{type(node.op).__name__} -> {type(new_op).__name__}: {ast.unparse(node)}",
                expr(ast.BoolOp(op=new_op, values=node.values)),
            )
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            add(node, f"drop not: {ast.unparse(node)}", expr(node.operand))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            add(node, f"drop minus: {ast.unparse(node)}", expr(node.operand))
        elif isinstance(node, ast.BinOp) and type(node.op) in _BIN_SWAP:
            new = _BIN_SWAP[type(node.op)]()
            add(
                node,
                f"{type(node.op).__name__} -> {type(new).__name__}: {ast.unparse(node)}",
                expr(ast.BinOp(left=node.left, op=new, right=node.right)),
            )
        elif isinstance(node, ast.AugAssign) and type(node.op) in _BIN_SWAP:
            new = _BIN_SWAP[type(node.op)]()
            add(
                node,
                f"{type(node.op).__name__}= -> {type(new).__name__}=: {ast.unparse(node)}",
                ast.unparse(ast.AugAssign(target=node.target, op=new, value=node.value)),
            )
        elif isinstance(node, ast.If | ast.While) and not isinstance(node.test, ast.UnaryOp):
            add(node.test, f"negate condition: {ast.unparse(node.test)}", f"(not {expr(node.test)})")
        elif isinstance(node, ast.Constant) and not isinstance(node.value, str | bytes):
            v = node.value
            if isinstance(v, bool):
                add(node, f"{v} -> {not v}", repr(not v))
            elif isinstance(v, int):
                add(node, f"{v} -> {v + 1}", repr(v + 1))
            elif isinstance(v, float):
                new_v = 1.0 if v == 0 else v * 2
                add(node, f"{v!r} -> {new_v!r}", repr(new_v))
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and not _is_log_call(node.value):
            add(node, f"remove call: {ast.unparse(node)[:80]}", "pass")
        elif (
            isinstance(node, ast.Return)
            and node.value is not None
            and not (isinstance(node.value, ast.Constant) and node.value.value is None)
        ):
            add(node, f"return None instead of: {ast.unparse(node.value)[:70]}", "return None")
    return out


def apply(source: str, mutant: Mutant) -> str:
    lines = source.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))

    def pos(lc: tuple[int, int]) -> int:
        line, col = lc
        # ast columns are UTF-8 byte offsets
        text = lines[line - 1].encode()[:col].decode(errors="ignore")
        return offsets[line - 1] + len(text)

    return source[: pos(mutant.start)] + mutant.replacement + source[pos(mutant.end) :]


def _copy_tree(dest: Path) -> None:
    ignore = shutil.ignore_patterns(
        ".git",
        "__pycache__",
        "*.pyc",
        ".ci-venv",
        ".venv",
        "*.db*",
        ".pytest_cache",
        ".ruff_cache",
        ".import_linter_cache",
        "*.egg-info",
    )
    shutil.copytree(ROOT, dest, ignore=ignore, dirs_exist_ok=True)


_MTIME = [2_000_000_000]


def _write(path: Path, text: str) -> None:
    """Write ``path`` with a fresh, distinct mtime (whole seconds apart): a cached .pyc of the previous text
    (same size, same second) must never be taken for this one."""
    path.write_text(text)
    _MTIME[0] += 10
    os.utime(path, (_MTIME[0], _MTIME[0]))


PRELOAD = (
    "numpy",
    "scipy",
    "scipy.optimize",
    "scipy.signal",
    "scipy.interpolate",
    "scipy.integrate",
    "scipy.stats",
    "pandas",
    "sqlalchemy",
    "sqlalchemy.orm",
    "alembic",
    "pyvisa",
    "pyvisa_py",
    "pymeasure",
    "pymeasure.instruments",
    "pymeasure.experiment",
    "h5py",
    "yaml",
    "ruamel.yaml",
    "pydantic",
    "typer",
    "click",
    "matplotlib",
    "matplotlib.pyplot",
    "lmfit",
    "importlinter",
    "pytest",
    "_pytest",
    "hypothesis",
)
"""Third-party packages imported once by the forking runner (never the project's own: those are mutated)."""


def preload() -> None:
    os.environ.setdefault("MPLBACKEND", "Agg")
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # no BLAS threads in a process that forks
    import importlib

    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - optional: whatever is missing is imported by the tests
            pass


def _env(scratch: Path) -> dict[str, str]:
    return {
        "PYTHONPATH": str(scratch),
        "PYTHONPYCACHEPREFIX": str(scratch.parent / "pycache"),
        "QT_QPA_PLATFORM": "offscreen",
    }


def _pytest_args(tests: list[str]) -> list[str]:
    args = [
        "-x",
        "-q",
        "-p",
        "no:cacheprovider",
        "-o",
        "addopts=",
        "-W",
        "ignore::pytest.PytestAssertRewriteWarning",
    ]
    if not any(t.startswith("tests/gui") for t in tests):
        args += ["-p", "no:pytestqt"]  # loading Qt costs seconds per mutant
    return [*args, *tests]


def _kill(pid: int) -> None:
    """Kill the session of ``pid``: the mutant's pytest and whatever it started (servers, engines)."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def _wait(pid: int, timeout: float, t0: float) -> int | None:
    """Exit code of ``pid``, or None after killing its whole session at ``timeout``."""
    try:
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return os.waitstatus_to_exitcode(status)
            if time.monotonic() - t0 > timeout:
                _kill(pid)
                return None
            time.sleep(0.05)
    except BaseException:  # Ctrl-C or SIGTERM of the tool: leave nothing running behind
        _kill(pid)
        raise


def _run_tests(scratch: Path, tests: list[str], timeout: float, fork: bool = True) -> tuple[str, float]:
    """Run ``tests`` in ``scratch``: in a forked child of this (preloaded) process, or a fresh interpreter."""
    t0 = time.monotonic()
    if fork:
        pid = os.fork()
        if pid == 0:  # the child: never returns
            code = 98
            try:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                os.setsid()
                null = os.open(os.devnull, os.O_RDWR)
                for fd in (0, 1, 2):
                    os.dup2(null, fd)
                os.chdir(scratch)
                os.environ.update(_env(scratch))
                sys.path.insert(0, str(scratch))
                sys.pycache_prefix = os.environ["PYTHONPYCACHEPREFIX"]
                import pytest

                code = int(pytest.main(_pytest_args(tests)))
            finally:
                os._exit(code)
        code = _wait(pid, timeout, t0)
    else:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pytest", *_pytest_args(tests)],
            cwd=scratch,
            env={**os.environ, **_env(scratch)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        code = _wait(proc.pid, timeout, t0)
    if code is None:
        return "timeout", time.monotonic() - t0
    return ("survived" if code == 0 else "killed"), time.monotonic() - t0


def run(
    modules: list[str],
    sample: int | None,
    seed: int,
    list_only: bool,
    factor: float,
    report: Path | None,
    fork: bool = True,
) -> int:
    rng = random.Random(seed)
    plan: list[tuple[str, list[Mutant]]] = []
    for module in modules:
        source = (ROOT / module).read_text()
        mutants = find_mutants(module, source)
        chosen = (
            sorted(rng.sample(mutants, sample), key=lambda m: m.index)
            if sample and sample < len(mutants)
            else mutants
        )
        plan.append((module, chosen))
        print(f"{module}: {len(mutants)} mutants, running {len(chosen)}", file=sys.stderr)
    if list_only:
        for module, chosen in plan:
            for m in chosen:
                print(f"{module}:{m.line}: #{m.index} {m.what}")
        return 0
    if fork:
        preload()
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="nanocell-mutate-") as tmp:
        scratch = Path(tmp) / "tree"
        _copy_tree(scratch)
        for module, chosen in plan:
            tests = [t for t in RELATED[module] if (ROOT / t).exists()]
            status, base_s = _run_tests(scratch, tests, 1800, fork)
            if status != "survived":
                print(f"{module}: its tests fail unmutated ({status}); skipped", file=sys.stderr)
                continue
            limit = max(factor * base_s, base_s + 20.0)
            print(
                f"{module}: tests pass unmutated in {base_s:.1f} s; limit per mutant {limit:.0f} s",
                file=sys.stderr,
            )
            target = scratch / module
            original = (ROOT / module).read_text()
            try:
                for m in chosen:
                    mutated = apply(original, m)
                    try:
                        compile(mutated, module, "exec")
                    except SyntaxError:
                        outcomes.append(Outcome(module, m.index, m.line, m.what, "error", 0.0))
                        continue
                    _write(target, mutated)
                    status, secs = _run_tests(scratch, tests, limit, fork)
                    _write(target, original)
                    outcomes.append(Outcome(module, m.index, m.line, m.what, status, secs))
                    print(
                        f"  {status:8s} {module}:{m.line} #{m.index} {m.what} ({secs:.1f} s)", file=sys.stderr
                    )
            finally:
                _write(target, original)
    summary = _summary(outcomes)
    for module, s in summary["modules"].items():
        print(
            f"{module}: {s['killed']} killed, {s['survived']} survived, {s['timeout']} timeout, "
            f"{s['error']} not compiling; score {s['score']:.0%}"
        )
    survivors = [o for o in outcomes if o.status == "survived"]
    if survivors:
        print("survivors:")
        for o in survivors:
            print(f"  {o.module}:{o.line} #{o.index} {o.what}")
    if report is not None:
        report.write_text(
            json.dumps({"summary": summary, "outcomes": [asdict(o) for o in outcomes]}, indent=1)
        )
    print(
        json.dumps(
            {
                "score": summary["score"],
                "killed": summary["killed"],
                "survived": summary["survived"],
                "timeout": summary["timeout"],
            }
        )
    )
    return 0


def _summary(outcomes: list[Outcome]) -> dict:
    modules: dict[str, dict] = {}
    for o in outcomes:
        s = modules.setdefault(o.module, {"killed": 0, "survived": 0, "timeout": 0, "error": 0})
        s[o.status] += 1
    for s in modules.values():
        counted = s["killed"] + s["survived"] + s["timeout"]
        s["score"] = (s["killed"] + s["timeout"]) / counted if counted else 1.0
    total = {k: sum(s[k] for s in modules.values()) for k in ("killed", "survived", "timeout", "error")}
    counted = total["killed"] + total["survived"] + total["timeout"]
    return {
        "modules": modules,
        **total,
        "score": (total["killed"] + total["timeout"]) / counted if counted else 1.0,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--module", action="append", help="a module path (repeatable); default: all of RELATED"
    )
    parser.add_argument("--sample", type=int, help="at most this many random mutants per module")
    parser.add_argument("--seed", type=int, default=1, help="seed of the sample (default 1)")
    parser.add_argument("--list", action="store_true", help="list the mutants, run nothing")
    parser.add_argument(
        "--timeout-factor",
        type=float,
        default=3.0,
        help="a mutant times out after this many times the unmutated tests' time (min +20 s)",
    )
    parser.add_argument(
        "--no-fork",
        action="store_true",
        help="run each mutant's tests in a fresh interpreter (slower) instead of a fork of a preloaded one",
    )
    parser.add_argument("--report", type=Path, help="write every outcome as JSON to this file")
    args = parser.parse_args(argv)
    # SIGTERM ends like Ctrl-C: the running mutant's tests are killed and the scratch tree deleted
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    modules = args.module or list(RELATED)
    unknown = [m for m in modules if m not in RELATED]
    if unknown:
        parser.error(f"no related tests known for {', '.join(unknown)} (add them to RELATED)")
    return run(modules, args.sample, args.seed, args.list, args.timeout_factor, args.report, not args.no_fork)


if __name__ == "__main__":
    sys.exit(main())
