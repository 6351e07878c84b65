"""Capacity per mass (mAh/g) and Li per host atom of a nanowire whose geometry was stored with the run.

Mass = density · π(d/2)² · L with d the whole wire (a Si core/shell wire: core + 2 shells, all Si). Si:
2.33 g/cm3, 28.086 g/mol, 3579 mAh/g for Li15Si4 (Li3.75Si); H2V3O8: 282.8 g/mol, density ≈ 3.0 g/cm3
(assumed). Source: /work/shared/reference/domain-notes.md section 1.2.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

FARADAY = 96485.33212  # C/mol

# material key (matched in the wire's material text) -> (density g/cm3, molar mass g/mol of one host unit,
# theoretical mAh/g, host name)
MATERIALS = {
    "H2V3O8": (3.0, 282.8, None, "H2V3O8"),
    "Si": (2.33, 28.086, 3579.0, "Si"),  # Li15Si4; 4200 for Li22Si5
}


# the wire material in its description text: "Si/a-Si", "silicon"; not "single" or "SiO2"
PATTERNS = {"H2V3O8": r"H2V3O8", "Si": r"(?<![A-Za-z])Si(?![A-Za-z0-9])|(?i:silicon)"}


@dataclass(frozen=True)
class WireGeometry:
    """Material and size of the active wire: ``diameter_nm`` (whole wire), ``length_um`` (exposed)."""

    material: str
    diameter_nm: float
    length_um: float
    density_g_cm3: float
    molar_mass_g_mol: float
    theoretical_mAh_g: float | None

    @property
    def mass_g(self) -> float:
        r_cm = self.diameter_nm * 1e-7 / 2.0
        return self.density_g_cm3 * math.pi * r_cm**2 * self.length_um * 1e-4

    def mAh_per_g(self, charge_C: float) -> float:
        """Charge (C) as capacity per mass of the wire (mAh/g)."""
        return abs(charge_C) / 3.6 / self.mass_g

    def li_per_host(self, charge_C: float) -> float:
        """Li per host atom (Si) or formula unit (H2V3O8) for a charge (C) that moved Li into the wire."""
        return abs(charge_C) / FARADAY / (self.mass_g / self.molar_mass_g_mol)

    def text(self) -> str:
        return (f"{self.material} wire d {self.diameter_nm:g} nm × {self.length_um:g} µm, "
                f"{self.mass_g:.3g} g")


def _number(d: dict[str, Any], key: str) -> float | None:
    v = d.get(key)
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 else None


def wire_geometry(dimensions: dict[str, Any] | None, materials: dict[str, Any] | None,
                  wire: str | None = None) -> WireGeometry | None:
    """The wire's geometry from the device's ``dimensions`` (``diameter_nm`` or ``core_diameter_nm`` +
    ``shell_thickness_nm``; ``length_um``) and its material (``materials["wire"]`` or the wire text); None
    when either is unknown."""
    dims = dimensions or {}
    length = _number(dims, "length_um")
    diameter = _number(dims, "diameter_nm")
    core = _number(dims, "core_diameter_nm")
    if diameter is None and core is not None:
        diameter = core + 2.0 * (_number(dims, "shell_thickness_nm") or 0.0)
    text = str((materials or {}).get("wire") or wire or "")
    key = next((k for k, pattern in PATTERNS.items() if re.search(pattern, text)), None)
    if length is None or diameter is None or key is None:
        return None
    density, molar, theory, host = MATERIALS[key]
    return WireGeometry(host, diameter, length, density, molar, theory)


def c_rate(current_A: float, capacity_Ah: float | None) -> float:
    """|I| / capacity (per hour): 1 = the capacity in one hour; NaN without a capacity."""
    if not capacity_Ah or not math.isfinite(current_A):
        return float("nan")
    return abs(current_A) / capacity_Ah
