"""``nanocell resume`` of a run on one device of a chip: on that device by default, another one refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from nanocell_daq.engine.resume import plan_for_resume
from nanocell_daq.engine.stationview import StationView
from nanocell_daq.errors import UserError
from nanocell_daq.storage import Store
from tests.station.chip_devices import dump, two_device_station

STATION = Path(__file__).with_name("station_si.yaml")
IV = "protocol: iv\nsteps:\n  - iv: {pairs: [S-D], v_max_V: 0.2, points: 5, compliance_A: 1.0e-7}\n"


def test_resume_stays_on_the_device_the_run_was_on(tmp_path):
    chip = tmp_path / "chip.yaml"
    chip.write_text(dump(two_device_station(yaml.safe_load(STATION.read_text()))))
    view = StationView.from_file(chip, "nw2")
    with Store.open(tmp_path / "runs.db") as store:
        run = store.create_run("iv", IV, station={"config": view.raw})
        store.finish_run(run, "interrupted", "killed")
        assert plan_for_resume(store, run).station.config.device_name == "nw2"  # from the snapshot
        again = plan_for_resume(store, run, chip)  # the file: its device nw2, not a choice to make
        assert again.station.config.wirings["conductance:S-D"].channels == ["1C05", "1D06"]
        with pytest.raises(UserError, match="run 1 ran on device 'nw2', not 'nw1': resume it on 'nw2'"):
            plan_for_resume(store, run, chip, "nw1")
