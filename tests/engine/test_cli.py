"""``nanocell check | demo | bench map`` as a user sees them."""

from __future__ import annotations

import json
import textwrap

import pytest

from nanocell_daq.cli import main
from nanocell_daq.engine.protocol import shipped_protocols
from nanocell_daq.storage import Store


def test_check_prints_the_plan_with_durations(station_path, capsys):
    code = main(["check", "si_seed", "--station", str(station_path), "--set", "cycles=3"])
    out = capsys.readouterr().out
    assert code == 0
    assert "after discharge 3" in out
    assert "galvanostatic" in out and "raman_map" in out
    assert "total" in out


def test_check_error_names_file_line_field(tmp_path, station_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        textwrap.dedent("""\
        protocol: bad
        steps:
          - iv: {pairs: [S-D]}
          - galvanostatic:
              current_A: 1.0e-11
              v_max_V: 4.4
        """)
    )
    code = main(["check", str(bad), "--station", str(station_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert f"{bad}:6: galvanostatic.v_max_V: requested 4.4 V, device window [2.4, 4.05] V" in err
    assert "Traceback" not in err


def test_check_unknown_protocol_parameter(station_path, capsys):
    code = main(
        ["check", str(shipped_protocols()["si_seed"]), "--station", str(station_path), "--set", "cyc=3"]
    )
    assert code == 2
    assert "parameters.cyc: not a parameter" in capsys.readouterr().err


@pytest.mark.slow
def test_demo_json_last_line(tmp_path, capsys):
    report = tmp_path / "demo-report.png"
    db = str(tmp_path / "demo.db")
    code = main(["demo", "--db", db, "--json", "--cycles", "1", "--report", str(report)])
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 0
    summary = json.loads(out[-1])
    assert summary["report"] == str(report)
    assert report.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and report.stat().st_size > 50_000
    assert summary["status"] == "completed"
    labels = [c["label"] for c in summary["checkpoints"]]
    assert labels == ["pristine", "after charge 1", "after discharge 1"]
    g = {c["label"]: c["conductance_S"] for c in summary["checkpoints"]}
    assert g["pristine"] / g["after discharge 1"] >= 100
    with Store.open(tmp_path / "demo.db", create=False) as store:
        info = store.run(summary["run_id"])
        dims = store.device(info.device_id).dimensions
        nominal_ah = info.station["config"]["device"]["nominal_capacity_Ah"]
    # pristine Raman: the crystalline fraction is the c-Si core's share of the wire's volume (~0.18 here);
    # lithiation amorphises part of the core, so Xc is lower after the discharge (a-Si band back). After the
    # charge the ratio is not comparable: lithiated LixSi has no a-Si band, so Ic/(Ic + y Ia) can rise
    core = dims["core_diameter_nm"] / (dims["core_diameter_nm"] + 2 * dims["shell_thickness_nm"])
    # (the pixels' mean, else Xc of the map's summed areas, else its 95 % upper limit: no significant c-Si)
    xc = [next(c[k] for k in ("xc_mean", "xc_pooled", "xc_upper") if c[k] is not None)
          for c in summary["checkpoints"]]
    assert xc[0] == pytest.approx(core**2, abs=0.05)
    assert 0 <= xc[2] < xc[0] and xc[2] < xc[1]
    assert [(h["cycle"], h["direction"]) for h in summary["half_cycles"]] == [(1, "charge"), (1, "discharge")]
    charge, discharge = (h["capacity_Ah"] for h in summary["half_cycles"])
    # the charge stops at the voltage cut-off, below the 1.5x nominal guard (at 20 pA the passivated
    # stretches near the pads fill only by diffusion: ~0.6 of nominal); the first cycle loses some
    assert 0.45 * nominal_ah < charge < 1.0 * nominal_ah
    assert 0.6 * charge < discharge < charge


def test_demo_refuses_a_bad_report_path_before_running(tmp_path, capsys):
    code = main(["demo", "--db", str(tmp_path / "demo.db"), "--report", str(tmp_path / "no" / "r.png")])
    assert code == 2
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "demo.db").exists()


@pytest.mark.slow
def test_bench_map_prints_overhead_and_rtt(capsys):
    code = main(["bench", "map", "--pixels", "60"])
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 0
    figures = json.loads(out[-1])
    assert figures["status"] == "completed"
    assert figures["pixels"] == 60
    assert figures["overhead_ms_per_pixel"] > 0 and figures["socket_rtt_ms"] > 0  # speed: the figures
    assert figures["target_ms_per_pixel"] == 5.0


def test_bench_timings_prints_each_figure_with_its_ratio_and_target(capsys):
    code = main(["bench", "timings"])
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0
    assert figures["baseline_ms"] > 0
    targets = {"map_fit_ms_per_pixel": 50.0, "sim_spectrum_ms": 2.0, "emulator_reply_ms": 200.0}
    for name, target in targets.items():
        assert figures[name] > 0
        assert figures[f"{name}_ratio"] == pytest.approx(figures[name] / figures["baseline_ms"], rel=0.01)
        assert figures[f"{name}_target"] == target
        assert figures[f"{name}_within_target"] == (figures[name] <= target)
    assert "e2e_si_cycle_s" not in figures  # only with --e2e


def _station_with_pstat_model(tmp_path, station_path, model: str):
    text = station_path.read_text().replace(
        'pstat:        {driver: emstat4, resource: "TCPIP::127.0.0.1::41002::SOCKET"}',
        f'pstat:        {{driver: emstat4, resource: "TCPIP::127.0.0.1::41002::SOCKET", '
        f'options: {{model: {model}}}}}',
    )
    assert f"model: {model}" in text
    path = tmp_path / "station.yaml"
    path.write_text(text)
    return path


HOLD_AND_CV = """\
protocol: hold and cv
steps:
  - potentiostatic_hold: {{potential_V: {hold}, max_time_s: 10}}
  - cv:
      e_begin_V: 2.8
      vertex1_V: {vertex}
      vertex2_V: 2.6
"""


def test_check_refuses_a_hold_and_a_cv_vertex_beyond_the_potentiostat_range(tmp_path, station_path, capsys):
    """An EmStat4 LR applies at most 3 V: a 3.9 V hold on the Si full cell is inside the cycling window
    but cannot be held, so planning refuses it (file:line: field) before any instrument is touched."""
    station = _station_with_pstat_model(tmp_path, station_path, "es4_lr")
    proto = tmp_path / "hold.yaml"
    proto.write_text(HOLD_AND_CV.format(hold=3.9, vertex=3.5))
    code = main(["check", str(proto), "--station", str(station)])
    err = capsys.readouterr().err
    assert code == 2
    assert (f"{proto}:3: potentiostatic_hold.potential_V: 3.9 V is outside the potential range -3..3 V "
            "of the potentiostat: instrument 'pstat' (emstat4, station.yaml line 5)") in err
    assert f"{proto}:6: cv.vertex1_V: 3.5 V is outside the potential range -3..3 V" in err
    assert "Traceback" not in err


def test_check_accepts_holds_inside_the_potentiostat_range(tmp_path, station_path, capsys):
    lr = _station_with_pstat_model(tmp_path, station_path, "es4_lr")
    proto = tmp_path / "hold.yaml"
    proto.write_text(HOLD_AND_CV.format(hold=2.9, vertex=3.0))
    assert main(["check", str(proto), "--station", str(lr)]) == 0
    hr = _station_with_pstat_model(tmp_path, station_path, "es4_hr")  # +-6 V: the Si cell's 3.9 V fits
    proto.write_text(HOLD_AND_CV.format(hold=3.9, vertex=4.0))
    assert main(["check", str(proto), "--station", str(hr)]) == 0
    captured = capsys.readouterr()
    assert "total" in captured.out and "error" not in captured.err


def test_check_refuses_an_unknown_potentiostat_model(tmp_path, station_path, capsys):
    station = _station_with_pstat_model(tmp_path, station_path, "es4_xx")
    code = main(["check", "si_seed", "--station", str(station)])
    err = capsys.readouterr().err
    assert code == 2
    assert ("station.yaml:5: instruments.pstat.options: model must be one of es4_lr, es4_hr "
            "(got 'es4_xx')") in err
