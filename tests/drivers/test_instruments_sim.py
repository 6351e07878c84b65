"""Stage, shutter, spectrometer and matrix drivers against the simulated bench."""

from __future__ import annotations

import numpy as np
import pytest

from drivers.errors import RoutingError
from drivers.proscan import ProScanError
from drivers.routing import MatrixRouter


def test_stage_moves_and_reports_position(bench, open_driver):
    stage = open_driver("stage")
    stage.move_to(105.0, 200.0, 0.0)
    assert stage.position == pytest.approx((105.0, 200.0, 0.0), abs=0.1)
    stage.move_by(2.5, -1.0)
    assert stage.position == pytest.approx((107.5, 199.0, 0.0), abs=0.1)
    assert not stage.moving
    with pytest.raises(ProScanError, match="E,8"):
        stage.move_to(1e7, 0)
    stage.shutdown()


def test_shutter_opens_and_closes(bench, open_driver):
    shutter = open_driver("shutter")
    assert "SC10" in shutter.id
    shutter.open()
    assert shutter.is_open and bench.output_on("shutter")
    shutter.shutdown()
    assert not shutter.is_open and not bench.output_on("shutter")


def test_spectrum_is_lit_only_with_laser_and_shutter(bench, open_driver):
    spec, shutter, stage = open_driver("spectrometer"), open_driver("shutter"), open_driver("stage")
    stage.move_to(105.0, 200.0, 0.0)
    spec.exposure_s = 0.5
    spec.accumulations = 1
    dark = spec.acquire()
    assert dark.counts.shape == dark.wavenumbers.shape == (spec.points,)
    assert dark.counts.dtype == np.float32
    assert np.all(np.diff(dark.wavenumbers) > 0)
    spec.power_mW = 0.1
    shutter.open()
    try:
        lit = spec.acquire()
    finally:
        shutter.shutdown()
        spec.shutdown()
    assert spec.power_mW == 0.0
    assert lit.counts.max() > 2 * dark.counts.max()


def test_router_on_the_matrix(bench, open_driver):
    matrix = open_driver("matrix")
    wirings = {name: frozenset(w["channels"]) for name, w in bench.station_dict()["wirings"].items()}
    router = MatrixRouter(matrix, wirings)
    for name, channels in wirings.items():
        router.connect(name)
        assert router.current_wiring == name
        assert router.closed_channels() == channels
    router.open_all()
    assert router.current_wiring is None and not bench.output_on("matrix")
    with pytest.raises(RoutingError):
        router.connect("nope")
