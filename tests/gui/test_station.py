"""Station panel and model against a real simulated bench: identities, an unreachable one, sim serve."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from nanocell_daq.viewmodels.sim_server import SimServer
from nanocell_daq.viewmodels.station import StationModel


@pytest.fixture(scope="module")
def bench_station(tmp_path_factory) -> Path:
    """A running SimulatedBench (Si, 1000x) and its station file with the SMU pointed at a closed port."""
    from simulated_instruments.bench import SimulatedBench

    folder = tmp_path_factory.mktemp("bench")
    bench = SimulatedBench(preset="si", speed=1000.0)
    bench.start()
    good = folder / "station.yaml"
    bench.write_station(good)
    data = yaml.safe_load(good.read_text())
    data["instruments"]["smu"]["resource"] = "TCPIP::127.0.0.1::1::SOCKET"  # nothing listens on port 1
    bad = folder / "station-no-smu.yaml"
    bad.write_text(yaml.safe_dump(data, sort_keys=False))
    yield folder
    bench.stop()


def test_check_reads_every_identity_and_wiring_of_the_simulated_bench(bench_station) -> None:
    model = StationModel()
    model.load(bench_station / "station.yaml")
    rows = {r.name: r for r in model.check()}
    assert all(r.status == "ok" for r in rows.values()), model.failed()
    assert "KEITHLEY" in rows["smu"].identity.upper() and "SC10" in rows["shutter"].identity
    assert model.summary.ok and model.summary.wirings and all(ok for _, ok, _ in model.summary.wirings)


def test_check_is_refused_while_a_run_of_the_guis_database_holds_the_station(bench_station, tmp_path) -> None:
    from nanocell_daq.engine.lease import EngineLease, config_key
    from nanocell_daq.errors import UserError
    from nanocell_daq.storage import Store

    model = StationModel()
    model.load(bench_station / "station.yaml")
    model.db = str(tmp_path / "runs.db")
    with Store.open(model.db) as store:
        engine = EngineLease(store, config_key(model.config), "the bench")
        engine.acquire(store.create_run("running"))
        try:
            with pytest.raises(UserError, match="is in use by run"):
                model.check()
            assert all(r.status != "ok" for r in model.instruments)  # nothing was checked
        finally:
            engine.release()
    assert all(r.status == "ok" for r in model.check())


def test_check_names_the_unreachable_instrument_and_still_identifies_the_others(bench_station) -> None:
    model = StationModel()
    model.load(bench_station / "station-no-smu.yaml")
    rows = {r.name: r for r in model.check()}
    assert rows["smu"].status == "error" and rows["smu"].problem.startswith("unreachable")
    assert rows["pstat"].status == "ok" and rows["pstat"].identity
    assert model.failed() == [f"smu: {rows['smu'].problem}"] and not model.summary.ok


def test_panel_shows_the_check_and_the_unreachable_instrument(qt_ok, qtbot, bench_station) -> None:
    from PySide6.QtWidgets import QLineEdit

    from nanocell_daq.gui.app import make_app
    from nanocell_daq.gui.station_panel import StationPanel

    make_app()
    edit = QLineEdit()
    panel = StationPanel(edit, str(bench_station / "station-no-smu.yaml"))
    qtbot.addWidget(panel)
    assert edit.text().endswith("station-no-smu.yaml") and "simulated bench" in panel.title.text()
    assert panel.instruments.rowCount() == 6 and panel.instruments.item(0, 1).text() == "not checked"
    panel.check_button.click()
    panel.wait_check()
    cells = {panel.instruments.item(r, 0).text(): panel.instruments.item(r, 1).text() for r in range(6)}
    assert cells["smu"] == "unreachable" and cells["pstat"] == "ok"
    assert "not ready" in panel.summary.text() and "smu: unreachable" in panel.summary.text()
    # a run in progress: the check refuses to talk to its instruments
    panel.run_active = lambda: True
    panel.check_button.click()
    assert panel._pending is None and "run is in progress" in panel.summary.text()
    panel.shutdown()


def test_simulated_station_button_serves_loads_and_stops_with_the_panel(qt_ok, qtbot) -> None:
    from PySide6.QtWidgets import QLineEdit

    from nanocell_daq.gui.app import make_app
    from nanocell_daq.gui.station_panel import StationPanel

    make_app()
    panel = StationPanel(QLineEdit())
    qtbot.addWidget(panel)
    with qtbot.waitSignal(panel.simulated_ready, timeout=60_000):
        panel.sim_button.click()
    sim = panel.sim
    assert sim is not None and sim.running and panel.model.path == str(sim.station_path)
    assert "1000× speed" in panel.title.text() and panel.model.speed == 1000.0
    panel.check_button.click()  # the bench answers as a real station would
    panel.wait_check()
    assert "station ready" in panel.summary.text(), panel.summary.text()
    process = sim.process
    panel.shutdown()
    assert process is not None and process.poll() is not None and panel.sim is None


def test_sim_server_reports_a_bad_preset_with_its_output(tmp_path) -> None:
    from nanocell_daq.errors import UserError

    server = SimServer(preset=str(tmp_path / "no-such-card.yaml"), folder=tmp_path)
    server.start()
    with pytest.raises(UserError, match="did not start"):
        server.wait(60)
    assert "no-such-card" in server.log_tail()
