"""``nanocell_daq.provenance``: the git commit of a source checkout, quietly none when git fails, hangs or
there is no checkout; a session record from a plan."""

from __future__ import annotations

import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from nanocell_daq import __version__, provenance


@pytest.fixture
def fresh():
    provenance.source_revision.cache_clear()
    provenance._software.cache_clear()
    yield
    provenance.source_revision.cache_clear()
    provenance._software.cache_clear()


def test_the_commit_of_this_checkout_is_recorded(fresh):
    root = Path(provenance.__file__).resolve().parents[1]
    head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()
    commit, dirty = provenance.source_revision()
    assert commit == head and isinstance(dirty, bool)
    assert provenance.software()["git_commit"] == head


def test_git_failing_or_hanging_gives_none_quietly(fresh, monkeypatch):
    def hang(*args, **kw):
        raise subprocess.TimeoutExpired(args[0], kw.get("timeout", 0))

    monkeypatch.setattr(subprocess, "run", hang)
    assert provenance.source_revision() == (None, None)
    provenance.source_revision.cache_clear()
    monkeypatch.setattr(subprocess, "run", lambda *a, **kw: subprocess.CompletedProcess(a, 128, "", "fatal"))
    assert provenance.source_revision() == (None, None)


def test_an_installed_package_calls_no_git(fresh, monkeypatch, tmp_path):
    (tmp_path / "site" / "nanocell_daq").mkdir(parents=True)
    monkeypatch.setattr(provenance, "__file__", str(tmp_path / "site" / "nanocell_daq" / "provenance.py"))

    def no_git(*args, **kw):
        raise AssertionError("git called outside a checkout")

    monkeypatch.setattr(subprocess, "run", no_git)
    sw = provenance.software()
    assert (sw["git_commit"], sw["git_dirty"], sw["software_version"]) == (None, None, __version__)


def test_a_session_from_a_plan_without_files_keeps_the_texts_it_has(tmp_path):
    proto = SimpleNamespace(name="p", path="run 3 protocol", text="protocol: p\n", overrides={"n": 3})
    view = SimpleNamespace(path=str(tmp_path / "gone.yaml"), raw={"name": "bench"},
                           config=SimpleNamespace(device_name="nw1"))
    record = provenance.session(SimpleNamespace(protocol=proto, station=view), None)
    assert record["station_path"] is None and record["station_text"] == "name: bench\n"
    assert record["protocol_path"] is None and record["protocol_text"] == "protocol: p\n"
    assert record["overrides"] == {"n": 3} and record["device"] == "nw1" and record["operator"] is None
