"""Fuzzing ``nanocell check`` with 215 mutated protocol and station files (tests/cli/fuzz_corpus.py).

Every case goes through the real CLI entry point (``nanocell_daq.cli.main``) in a child process whose
address space is capped at its warmed-up size + 200 MB. A case passes when nothing escapes ``main`` (no
traceback), the exit code is 0 (a plan is printed) or 2 (every line of the message names the file), and it
used under 5 s of CPU. A few cases also run as ``python -m nanocell_daq check`` to see what a user sees.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.cli.fuzz_corpus import STATION, Case, bomb, corpus

ROOT = Path(__file__).parents[2]
WORKER = Path(__file__).with_name("check_worker.py")
HEADROOM = 200 * 1024 * 1024  # bytes of address space a case may add
CPU_BUDGET_S = 5.0
HANG_S = 60.0  # wall seconds before a case counts as hung (the CPU budget is the real bound)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["COLUMNS"] = "120"
    return env


class Worker:
    """The child that runs the cases; restarted when a case kills it or hangs."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self.proc: subprocess.Popen[str] | None = None

    def _start(self) -> None:
        with self.log.open("a") as err:
            self.proc = subprocess.Popen(
                [sys.executable, str(WORKER), str(HEADROOM)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=err, text=True, env=_env(), cwd=ROOT,
            )
        self.ask(["check", "si_seed", "--station", str(STATION)])  # warm-up; sets the memory ceiling

    def ask(self, args: list[str]) -> dict[str, Any]:
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        assert self.proc is not None and self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(args) + "\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], HANG_S)
        line = self.proc.stdout.readline() if ready else ""
        if not line:
            self.close()
            return {"rc": None, "out": "", "err": "", "cpu_s": None,
                    "error": "hung" if not ready else "worker died (memory ceiling?)"}
        return json.loads(line)

    def close(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            for pipe in (self.proc.stdin, self.proc.stdout):
                if pipe is not None:
                    pipe.close()
            self.proc = None


def _args(case: Case, path: Path) -> list[str]:
    if case.kind == "protocol":
        return ["check", str(path), "--station", str(STATION)]
    return ["check", "si_seed", "--station", str(path)]


def problems_of(case: Case, path: Path, result: dict[str, Any]) -> list[str]:
    """What is wrong with one case's outcome (empty when it is fine)."""
    out: list[str] = []
    if result["error"]:
        out.append(f"escaped main: {result['error'].strip().splitlines()[-1]}")
        return out
    text = result["out"] + result["err"]
    if "Traceback" in text:
        out.append("traceback printed")
    if result["cpu_s"] is not None and result["cpu_s"] > CPU_BUDGET_S:
        out.append(f"used {result['cpu_s']:.1f} s CPU")
    if result["rc"] == 0:
        if "total" not in result["out"]:
            out.append("exit 0 without a plan")
    elif result["rc"] == 2:
        lines = result["err"].rstrip("\n").split("\n")
        if not lines[0].startswith("error: "):
            out.append(f"message does not start with 'error: ': {lines[0][:80]!r}")
        names = (path.name, STATION.name, "si_seed.yaml")
        unnamed = [ln for ln in lines if not any(n in ln for n in names)]
        if unnamed:
            out.append(f"a message line names no file: {unnamed[0][:120]!r}")
        if any(len(ln) > 500 for ln in lines):
            out.append("a message line is longer than 500 characters")
    else:
        out.append(f"exit code {result['rc']}")
    return out


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory) -> list[tuple[Case, Path, dict[str, Any]]]:
    folder = tmp_path_factory.mktemp("fuzz")
    worker = Worker(folder / "worker-stderr.log")
    results = []
    try:
        for case in corpus():
            path = folder / f"{case.name}.yaml"
            path.write_bytes(case.data)
            results.append((case, path, worker.ask(_args(case, path))))
    finally:
        worker.close()
    return results


def test_corpus_is_large_and_deterministic():
    cases = corpus()
    assert len(cases) >= 200
    assert [c.data for c in cases[:20]] == [c.data for c in corpus()[:20]]
    assert len({c.family for c in cases}) >= 19


def test_no_traceback_hang_or_blow_up_and_every_error_names_the_file(outcomes):
    bad = [f"{case.name}: {'; '.join(p)}" for case, path, result in outcomes
           if (p := problems_of(case, path, result))]
    assert not bad, f"{len(bad)} of {len(outcomes)} cases failed:\n" + "\n".join(bad)
    refused = sum(result["rc"] == 2 for _, _, result in outcomes)
    assert refused >= len(outcomes) // 2, "the mutator should break most files"


@pytest.mark.parametrize("family", ["alias_bomb", "merge_bomb", "recursive_alias", "deep_flow", "nul",
                                    "non_utf8", "nan"])
def test_dangerous_families_are_refused(outcomes, family):
    results = [(c, r) for c, _, r in outcomes if c.family == family]
    assert results
    for case, result in results:
        assert result["rc"] == 2, f"{case.name} was not refused: {result['out'][-300:]}{result['err']}"


def _console_cases() -> list[tuple[str, str, bytes]]:
    """(name, kind, content) of the handful run as a user runs them."""
    seed = (Path(ROOT) / "nanocell_daq" / "engine" / "protocols" / "si_seed.yaml").read_text()
    station = STATION.read_text()
    return [
        ("alias-bomb", "protocol", seed.replace("parameters:\n", "parameters:\n" + bomb(10, 10), 1).encode()),
        ("huge-repeat", "protocol", seed.replace("times: $cycles", "times: 18446744073709551616").encode()),
        ("label-width", "protocol", seed.replace('"charge {cycle}"', '"{cycle:99999999}"').encode()),
        ("nul-station", "station", b"\0" + station.encode()),
        ("latin-1", "protocol", seed.replace("protocol: Si", "protocol: Si \xe9").encode("latin-1")),
        ("deep", "station", station.replace("speed: 1000.0", "speed: " + "[" * 5000 + "]" * 5000).encode()),
    ]


def _peak_rss_kb(args: list[str]) -> tuple[int, str, int]:
    """(peak RSS kB, stderr, exit code) of ``python -m nanocell_daq ARGS``."""
    proc = subprocess.Popen([sys.executable, "-m", "nanocell_daq", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=_env(), cwd=ROOT)
    assert proc.stderr is not None
    with proc.stderr:
        err = proc.stderr.read().decode()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_maxrss, err, proc.returncode


def test_a_few_cases_through_the_console_command(tmp_path):
    """As a user runs it: one line on stderr naming the file, exit 2, and no more memory than a plain
    check + 200 MB."""
    baseline, _, rc = _peak_rss_kb(["check", "si_seed", "--station", str(STATION)])
    assert rc == 0
    for name, kind, data in _console_cases():
        path = tmp_path / f"{name}.yaml"
        path.write_bytes(data)
        rss, err, rc = _peak_rss_kb(_args(Case(name, kind, name, data), path))
        assert rc == 2, f"{name}: exit {rc}: {err}"
        assert err.startswith("error: ") and err.count("\n") == 1 and path.name in err, (name, err)
        assert rss < baseline + HEADROOM // 1024, f"{name}: peak RSS {rss} kB vs {baseline} kB plain"
