"""Typed parameter card of the simulated chip, loaded from a user-editable YAML file (presets ship here)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from .errors import CardError

PRESET_DIR = Path(__file__).with_name("presets")
PRESETS: dict[str, Path] = {"si": PRESET_DIR / "si.yaml", "h2v3o8": PRESET_DIR / "h2v3o8.yaml"}

Pos = Annotated[float, Field(gt=0)]
NonNeg = Annotated[float, Field(ge=0)]
Frac = Annotated[float, Field(ge=0, le=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Band(_Strict):
    """One Raman band: height in counts/(s mW) with the laser spot fully on the material."""

    center_cm1: Pos
    fwhm_cm1: Pos
    height: NonNeg
    shape: Literal["lorentz", "gauss"] = "lorentz"


class WirePosition(_Strict):
    """Stage coordinates (um) of the two ends of the exposed wire, and its focal height z (um)."""

    start: tuple[float, float]
    end: tuple[float, float]
    z: float = 0.0

    @model_validator(mode="after")
    def _not_a_point(self) -> WirePosition:
        if self.start == self.end:
            raise ValueError("start and end of the wire are the same point")
        return self


class SiWire(_Strict):
    """Si/a-Si core/shell nanowire (negative electrode of a Si || LiCoO2 full cell)."""

    kind: Literal["si_core_shell"]
    material: str = "Si/a-Si core/shell nanowire"
    core_diameter_nm: Pos = 30.0
    shell_thickness_nm: NonNeg = 20.0
    exposed_length_um: Pos = 10.0
    rho_core_ohm_cm: Pos = 0.01
    sigma_aSi_S_cm: Pos = 1.0e-5
    sigma_lithiated_S_cm: Pos = 1.0
    q_specific_mAh_g: Pos = 3579.0
    density_g_cm3: Pos = 2.33
    first_cycle_plateau_V: Pos = 0.17
    li_entry_length_um: Pos = 30.0
    passivated_um: NonNeg = 1.5
    passivation_edge_um: Pos = 1.5
    axial_diffusivity_cm2_s: NonNeg = 1.0e-10
    front_rate_per_s: NonNeg = 10.0
    front_stress_factor: NonNeg = 1.0
    front_residual_core: Annotated[float, Field(ge=0, lt=1)] = 0.01
    front_stop_spread: NonNeg = 0.5
    front_stop_relax_cycles: Pos = 1.0
    cycled_damage_per_cycle: NonNeg = 3.0
    li15si4_threshold_V: Pos = 0.050
    li15si4_plateau_V: Pos = 0.43
    li15si4_max_fraction: Frac = 0.3
    hysteresis_rate: Pos = 40.0
    low_edge_V: NonNeg = 1.6
    high_edge_V: NonNeg = 0.15
    edge_width: Pos = 0.02
    sei_fraction_initial: Frac = 0.10
    sei_capacity_fraction: Frac = 0.08
    fade_per_cycle: Frac = 0.01
    rate_factor_sigma: NonNeg = 0.3
    rate_factor_corr_um: Pos = 0.6


class H2V3O8Wire(_Strict):
    """H2V3O8 nanowire (positive electrode of an H2V3O8 || graphene full cell); x = Li per formula unit."""

    kind: Literal["h2v3o8"]
    material: str = "H2V3O8 nanowire"
    diameter_nm: Pos = 150.0
    exposed_length_um: Pos = 20.0
    density_g_cm3: Pos = 3.0
    q_per_Li_mAh_g: Pos = 94.8
    x_max: Pos = 4.0
    initial_x: NonNeg = 0.1
    sigma0_S_cm: Pos = 1.0e-2
    ocv_u0_V: float = 3.45
    ocv_slope_V: float = 0.05
    ocv_steps: list[tuple[float, float, float]] = [(0.25, 0.55, 0.2), (1.7, 0.45, 0.6), (3.3, 0.8, 0.35)]
    low_edge_V: NonNeg = 0.6
    high_edge_V: NonNeg = 0.6
    edge_width: Pos = 0.03
    hysteresis_V: NonNeg = 0.06
    hysteresis_rate: Pos = 10.0
    reversible_decades: NonNeg = 2.3
    reversible_x_scale: Pos = 0.3
    deep_x_critical: Pos = 2.5
    irreversible_decades: NonNeg = 3.0
    irreversible_x_scale: Pos = 0.3
    fade_per_cycle: Frac = 0.01
    rate_factor_sigma: NonNeg = 0.3
    rate_factor_corr_um: Pos = 1.0


class FilmRegion(_Strict):
    """Rectangle of the stage plane (um) covered by the counter film."""

    x: tuple[float, float]
    y: tuple[float, float]

    @model_validator(mode="after")
    def _ordered(self) -> FilmRegion:
        if self.x[0] >= self.x[1] or self.y[0] >= self.y[1]:
            raise ValueError("film region needs x = [min, max] and y = [min, max] with min < max")
        return self


class Counter(_Strict):
    """Thin-film counter electrode, oversized so its potential barely moves."""

    material: str
    ocv: Literal["lico2_ramadass2004", "graphite_ramadass2004"]
    area_um2: Pos
    thickness_um: Pos
    volumetric_capacity_uAh_cm2_um: Pos
    initial_sto: Frac
    region_um: FilmRegion
    raman_bands: list[Band] = []


class Electrolyte(_Strict):
    """Solid polymer electrolyte between wire and counter (sigma at the operating temperature)."""

    material: str = "PEO-LiTFSI"
    sigma_S_cm: Pos = 3.0e-5
    path_um: Pos = 50.0
    cross_section_um2: Pos = 100.0
    leak_resistance_ohm: Pos = 1.0e13
    raman_bands: list[Band] = []


class Kinetics(_Strict):
    """Butler-Volmer charge transfer at the wire and a first-order diffusion (concentration) overpotential."""

    j0_A_m2: Pos = 0.03
    diffusion_R_ohm: NonNeg = 1.0e9
    diffusion_tau_s: Pos = 20.0


class PhiB(_Strict):
    """Contact barrier (eV): pristine; once the core under the contact is amorphised (after_cycle1); and
    the rise per further full cycle of the material under the contact."""

    pristine: float = 0.15
    after_cycle1: float = 0.50
    per_cycle_increase: NonNeg = 0.02


class Contacts(_Strict):
    """Back-to-back Schottky contacts at the wire's pads (thermionic with reverse barrier lowering)."""

    area_cm2: Pos = 1.0e-9
    richardson_A_cm2_K2: Pos = 32.0
    ideality: Annotated[float, Field(ge=1)] = 2.0
    phi_b_eV: PhiB = PhiB()
    barrier_lowering_eV_per_sqrtV: NonNeg = 0.08
    asymmetry: NonNeg = 0.1


class Axis(_Strict):
    start_cm1: float = 100.0
    stop_cm1: float = 1800.0
    points: Annotated[int, Field(ge=16, le=8192)] = 1024

    @model_validator(mode="after")
    def _ordered(self) -> Axis:
        if self.stop_cm1 <= self.start_cm1:
            raise ValueError("stop_cm1 must be above start_cm1")
        return self


class Raman(_Strict):
    """Raman forward model: spot, c-Si/a-Si bands, heating, baseline and detector noise."""

    axis: Axis = Axis()
    laser_nm: Pos = 532.0
    spot_um: Pos = 0.65
    focus_depth_um: Pos = 1.0
    si_peak_cm1: Pos = 520.6
    si_fwhm_cm1: Pos = 4.0
    si_confinement_shift_cm1: NonNeg = 0.5
    si_height: NonNeg = 4000.0
    aSi_center_cm1: Pos = 475.0
    aSi_fwhm_cm1: Pos = 70.0
    aSi_center_cycled_cm1: Pos = 466.0
    aSi_fwhm_cycled_cm1: Pos = 90.0
    y_cross_section_ratio: Pos = 0.8
    heating_K_per_mW: NonNeg = 150.0
    heating_lithiated_factor: NonNeg = 1.5
    heating_shift_cm1_per_K: float = -0.022
    heating_broadening_cm1_per_K: NonNeg = 0.012
    wire_bands: list[Band] = []
    fluorescence: NonNeg = 150.0
    fluorescence_decay_cm1: Pos = 1500.0
    dark_counts_per_s: NonNeg = 0.2
    read_noise_counts: NonNeg = 4.0
    cosmic_rate_per_s: NonNeg = 5.0e-4


class Noise(_Strict):
    voltage_V_rms: NonNeg = 1.0e-4
    current_A_rms: NonNeg = 2.0e-14
    wire_relative_rms: NonNeg = 1.0e-3
    wire_abs_A_rms: NonNeg = 5.0e-15


class Pad(_Strict):
    """A chip pad: a contact on the wire at along_wire_um (um from the wire start), or the counter film."""

    kind: Literal["contact", "counter"]
    along_wire_um: float | None = None

    @model_validator(mode="after")
    def _position(self) -> Pad:
        if self.kind == "contact" and self.along_wire_um is None:
            raise ValueError("a contact pad needs along_wire_um")
        if self.kind == "counter" and self.along_wire_um is not None:
            raise ValueError("a counter pad has no along_wire_um")
        return self


class Card(_Strict):
    """The whole chip: wire, pads, counter film, electrolyte, kinetics, contacts, Raman, noise."""

    preset: str
    chip: str
    temperature_C: float = Field(default=60.0, gt=-50, lt=200)
    wire: Annotated[SiWire | H2V3O8Wire, Field(discriminator="kind")]
    position_um: WirePosition
    pads: dict[str, Pad]
    counter: Counter
    electrolyte: Electrolyte = Electrolyte()
    kinetics: Kinetics = Kinetics()
    contacts: Contacts = Contacts()
    raman: Raman = Raman()
    noise: Noise = Noise()

    @model_validator(mode="after")
    def _pads(self) -> Card:
        contacts = [n for n, p in self.pads.items() if p.kind == "contact"]
        if len(contacts) < 2:
            raise ValueError("pads: need at least two contact pads on the wire (e.g. S and D)")
        if not any(p.kind == "counter" for p in self.pads.values()):
            raise ValueError("pads: need one pad of kind counter (the counter film)")
        length = self.wire.exposed_length_um
        for name in contacts:
            pos = self.pads[name].along_wire_um
            assert pos is not None
            if not 0.0 <= pos <= length:
                raise ValueError(f"pads: {name}: along_wire_um {pos} is outside the wire (0..{length} um)")
        return self


def _line_of(doc: object, loc: tuple[object, ...]) -> int | None:
    """1-based line of the deepest key of loc that exists in the ruamel round-trip document."""
    line = None
    node = doc
    for key in loc:
        lc = getattr(node, "lc", None)
        try:
            if lc is not None and isinstance(key, str) and key in node:  # type: ignore[operator]
                line = lc.key(key)[0] + 1
            elif lc is not None and isinstance(key, int):
                line = lc.item(key)[0] + 1
            node = node[key]  # type: ignore[index]
        except (KeyError, IndexError, TypeError):
            break
    return line


def load_card(source: str | Path) -> Card:
    """Load a preset ("si", "h2v3o8") or a YAML file. Raises CardError "file:line: field: why"."""
    path = PRESETS.get(str(source), Path(source))
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        known = ", ".join(PRESETS)
        raise CardError(f"{path}: cannot read the cell card ({exc.strerror}); presets are: {known}") from exc
    try:
        doc = YAML(typ="rt").load(text)
    except YAMLError as exc:
        raise CardError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(doc, dict):
        raise CardError(f"{path}: a cell card must be a YAML mapping")
    try:
        return Card.model_validate(_plain(doc))
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(p for p in err["loc"] if p not in ("si_core_shell", "h2v3o8"))
        field = ".".join(str(p) for p in loc) or "(card)"
        line = _line_of(doc, loc)
        where = f"{path}:{line}" if line else str(path)
        value = f" (got {err['input']!r})" if "input" in err and not isinstance(err["input"], dict) else ""
        more = f" (and {exc.error_count() - 1} more problems)" if exc.error_count() > 1 else ""
        raise CardError(f"{where}: {field}: {err['msg']}{value}{more}") from exc


def _plain(node: object) -> object:
    """ruamel CommentedMap/Seq -> plain dict/list (pydantic wants plain containers)."""
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node
