"""The queue in the GUI: the model lists and changes entries (no Qt); the panel adds Run control's protocol
for the chosen device and holds an entry."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from nanocell_daq.errors import UserError
from nanocell_daq.storage import queue as rows
from nanocell_daq.viewmodels.run_queue import RunQueueModel, parse_sets
from tests.station.chip_devices import dump, two_device_station

STATION = Path(__file__).resolve().parents[1] / "engine" / "station_si.yaml"
IV = "protocol: iv\nparameters: {v: 0.2}\nsteps:\n  - iv: {pairs: [S-D], v_max_V: $v, points: 5, " \
     "compliance_A: 1.0e-7}\n"


@pytest.fixture
def files(tmp_path) -> tuple[str, str]:
    chip = tmp_path / "chip.yaml"
    chip.write_text(dump(two_device_station(yaml.safe_load(STATION.read_text()))))
    proto = tmp_path / "iv.yaml"
    proto.write_text(IV)
    return str(proto), str(chip)


def test_model_adds_checked_entries_and_holds_releases_cancels(store, files) -> None:
    proto, chip = files
    model = RunQueueModel(store)
    seen: list[None] = []
    model.changed.connect(lambda: seen.append(None))
    first = model.add(proto, chip, "nw2", "v=0.3", stop_on_failure=True)
    with pytest.raises(UserError, match=r"device limit 0\.5 V"):
        model.add(proto, chip, "nw2", "v=0.8")
    with pytest.raises(UserError, match="choose one with --device NAME"):
        model.add(proto, chip, "")
    second = model.add(proto, chip, "nw1")
    assert [r.cells[:5] for r in model.rows] == [
        (str(first), "queued (stop on failure)", "iv", "nw2", "v=0.3"),
        (str(second), "queued", "iv", "nw1", "")]
    assert len(seen) == 2
    assert model.act([first], "hold") == []
    assert model.act([first, second], "release") == [f"entry {second} is queued"]
    assert model.act([second], "cancel") == []
    assert [e.state for e in rows.entries(store)] == ["queued", "cancelled"]
    assert parse_sets("a=1, b=x") == {"a": "1", "b": "x"}
    with pytest.raises(UserError, match="expected NAME=VALUE"):
        parse_sets("cycles")


def test_panel_shows_the_queue_and_adds_for_the_device(qt_ok, qtbot, store, files, tmp_path) -> None:
    from nanocell_daq.gui.app import make_app
    from nanocell_daq.gui.main_window import MainWindow

    proto, chip = files
    make_app()
    win = MainWindow(store, str(tmp_path / "runs.db"), station=chip, protocol=proto, interval_ms=50,
                     reattach=False)
    qtbot.addWidget(win)
    try:
        win.run_panel.device.setText("nw1")
        panel = win.queue_panel
        panel.sets.setText("v=0.1")
        panel.add_button.click()
        assert [(e.device, e.overrides) for e in rows.entries(store)] == [("nw1", {"v": "0.1"})]
        assert panel.table.rowCount() == 1 and panel.table.item(0, 1).text() == "queued"
        panel.table.selectRow(0)
        panel.action_buttons["hold"].click()
        assert panel.table.item(0, 1).text() == "held"
    finally:
        win.close()
