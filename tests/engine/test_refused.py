"""A protocol beyond the device limits is refused before any instrument output turns on."""

from __future__ import annotations

import textwrap

import pytest

from nanocell_daq.cli import main
from simulated_instruments.bench import SimulatedBench

pytestmark = pytest.mark.slow


def test_over_limit_protocol_never_touches_an_output(tmp_path, capsys):
    proto = tmp_path / "too_much.yaml"
    proto.write_text(
        textwrap.dedent("""\
        protocol: too much
        steps:
          - galvanostatic: {current_A: 1.0e-11}
          - iv: {pairs: [S-D], v_max_V: 0.5, compliance_A: 5.0e-6}
        """)
    )
    with SimulatedBench(preset="si", speed=1000, seed=0, smu_model="2450", ideal_pstat=True) as bench:
        station = bench.write_station(tmp_path / "station.yaml")
        code = main(["run", str(proto), "--station", str(station), "--db", str(tmp_path / "r.db")])
        err = capsys.readouterr().err
        assert code == 2
        assert (
            "too_much.yaml:4: iv.compliance_A: requested 5e-06 A on 'conductance:S-D', device limit 1e-06 A"
            in err
        )
        for name in ("smu", "pstat", "shutter", "spectrometer", "matrix"):
            assert not any(e.output_on for e in bench.log(name)), name
            assert not any(e.command.upper().startswith((":OUTP", "OUTP")) for e in bench.log(name))
        assert not (tmp_path / "r.db").exists()
