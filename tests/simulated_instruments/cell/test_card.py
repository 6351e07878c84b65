"""Parameter cards: presets load, capacity from geometry, bad user edits give errors naming file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulated_instruments.cell import PRESETS, CardError, CellModel, load_card


def test_presets_load_and_si_capacity_is_sub_pAh() -> None:
    assert set(PRESETS) >= {"si", "h2v3o8"}
    si = CellModel(load_card("si"))
    assert 0.3e-12 <= si.nominal_capacity_Ah <= 0.7e-12
    hvo = CellModel("h2v3o8")
    assert 0.1e-12 <= hvo.nominal_capacity_Ah <= 1e-12


def test_device_info_describes_the_chip() -> None:
    m = CellModel("si")
    info = m.device_info()
    assert info["materials"]["counter"] == "LiCoO2"
    assert info["dimensions"]["core_diameter_nm"] == 30
    assert info["wire_position_um"]["start"] == [100.0, 200.0]
    assert m.pads["S"].kind == "contact" and m.pads["CE"].kind == "counter"
    assert m.pads["D"].along_wire_um == pytest.approx(15.0)


def _edited(tmp_path: Path, old: str, new: str) -> Path:
    text = PRESETS["si"].read_text()
    assert old in text
    path = tmp_path / "my_chip.yaml"
    path.write_text(text.replace(old, new, 1))
    return path


def test_bad_value_names_file_line_and_field(tmp_path: Path) -> None:
    path = _edited(tmp_path, "core_diameter_nm: 30", "core_diameter_nm: -30")
    with pytest.raises(CardError) as err:
        load_card(path)
    msg = str(err.value)
    assert str(path) in msg and "wire.core_diameter_nm" in msg and "greater than 0" in msg
    line = next(i for i, s in enumerate(path.read_text().splitlines(), 1) if "core_diameter_nm" in s)
    assert f"{path}:{line}:" in msg


def test_misspelt_field_and_missing_file(tmp_path: Path) -> None:
    path = _edited(tmp_path, "j0_A_m2:", "j0_A_m:")
    with pytest.raises(CardError, match=r"kinetics\.j0_A_m"):
        load_card(path)
    with pytest.raises(CardError, match="presets are"):
        load_card(tmp_path / "nope.yaml")


def test_contact_outside_the_wire_is_refused(tmp_path: Path) -> None:
    old = "C1: {kind: contact, along_wire_um: 7.5}"
    path = _edited(tmp_path, old, old.replace("7.5", "50.0"))
    with pytest.raises(CardError, match=r"C1.*outside the wire"):
        load_card(path)
