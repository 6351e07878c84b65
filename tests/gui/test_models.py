"""Run browser, run control, station and protocol editor models (no Qt)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from nanocell_daq.engine.protocol import shipped_protocols
from nanocell_daq.errors import UserError
from nanocell_daq.viewmodels import RunBrowserModel, RunControlModel
from nanocell_daq.viewmodels.protocol_editor import ProtocolEditorModel
from nanocell_daq.viewmodels.station import StationModel


def test_view_models_import_no_qt() -> None:
    code = (
        "import sys, nanocell_daq.viewmodels, nanocell_daq.viewmodels.demo, nanocell_daq.viewmodels.station,"
        " nanocell_daq.viewmodels.protocol_editor; "
        "print(sorted(m for m in sys.modules if m.startswith(('PySide6', 'pyqtgraph'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_browser_lists_runs_newest_first_with_status_and_device(store) -> None:
    dev = store.add_device("CHIP-7", wire="Si")
    a = store.create_run("first", device_id=dev)
    store.finish_run(a, "completed")
    b = store.create_run("second")
    model = RunBrowserModel(store)
    changes: list[None] = []
    model.changed.connect(lambda: changes.append(None))
    assert model.refresh() is True
    assert [r.cells[:4] for r in model.rows] == [
        (str(b), "running", "", "second"),
        (str(a), "completed", "CHIP-7", "first"),
    ]
    assert model.refresh() is False and len(changes) == 1
    assert [r.id for r in model.running()] == [b]


def test_control_requests_go_to_the_store_and_reattach_finds_the_running_run(store, tmp_path) -> None:
    done = store.create_run("old")
    store.finish_run(done, "completed")
    running = store.create_run("live")
    control = RunControlModel(store, tmp_path / "runs.db")
    attached: list[int | None] = []
    control.attached.connect(attached.append)
    with pytest.raises(UserError, match=r"no run attached"):
        control.pause()
    assert control.reattach() == running and attached == [running]
    control.pause()
    control.abort()
    assert [c.action for c in store.pending_controls(running)] == ["pause", "abort"]


def test_start_refuses_missing_files_and_builds_a_detached_nanocell_run(store, tmp_path, sim_station) -> None:
    control = RunControlModel(store, tmp_path / "runs.db")
    with pytest.raises(UserError, match=r"protocol file not found"):
        control.start(tmp_path / "nope.yaml", sim_station)
    cmd = control.build_command("p.yaml", sim_station)
    assert cmd[-6:] == ["run", "p.yaml", "--station", str(sim_station), "--db", str(tmp_path / "runs.db")]


def test_station_model_lists_instruments_roles_and_limits(sim_station) -> None:
    model = StationModel()
    model.load(sim_station)
    rows = {r.name: r for r in model.instruments}
    assert (
        set(rows["pstat"].roles) == {"galvanostat", "potentiostat"} and rows["smu"].driver == "keithley2450"
    )
    limits = dict(model.limits)
    assert limits["chip"] == "SIM-SI-01" and limits["cycling window"] == "2.4 – 4.05 V"
    assert model.speed == 1000.0


def test_station_model_reports_file_line_field(tmp_path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ninstruments: [1, 2\n")
    with pytest.raises(UserError, match=r"bad\.yaml"):
        StationModel().load(bad)


def test_protocol_editor_tree_forms_edit_and_validate(tmp_path, sim_station) -> None:
    src = (
        shipped_protocols()["si_seed"]
        if "si_seed" in shipped_protocols()
        else next(iter(shipped_protocols().values()))
    )
    model = ProtocolEditorModel()
    model.open(src)
    kinds = [n.kind for n in model.tree]
    assert "repeat" in kinds and model.tree[kinds.index("repeat")].children
    iv = next(n for n in model.tree if n.kind == "iv")
    fields = {f.name: f for f in model.fields(iv)}
    assert fields["v_max_V"].units == "V" and fields["points"].type == "int"
    assert model.validate(sim_station) == [] and model.total_s > 0
    model.set_value(iv, "points", "5")
    assert {f.name: f for f in model.fields(iv)}["points"].value == 5
    assert "#" in model.text  # comments survive a form edit
    model.set_value(iv, "v_max_V", "50")  # beyond the station's 1 V limit and the parameter's maximum
    errors = model.validate(sim_station)
    assert errors and "v_max_V" in " ".join(errors)
    out = Path(model.save(tmp_path / "edited.yaml"))
    assert "v_max_V: 50" in out.read_text()
