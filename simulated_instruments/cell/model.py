"""CellModel: the simulated on-chip nanowire cell as instruments see it, advanced lazily in simulated time.

Sign convention (both presets): positive current CHARGES the cell and raises its voltage. cell voltage is
the full-cell voltage, positive electrode minus negative electrode (as a battery cycler reports it):
- Si preset: the wire is the negative electrode; charge lithiates the Si (V_cell = U_LiCoO2 - U_Si + eta).
- H2V3O8 preset: the wire is the positive electrode; DISCHARGE (negative current) lithiates the wire
  (V_cell = U_H2V3O8 - U_graphene + eta).
`we_is_positive` tells an emulator whether E(WE) - E(CE) equals +V_cell (H2V3O8) or -V_cell (Si).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .card import Card, Pad, load_card
from .contacts import Junction, b2b_current, zero_bias_conductance
from .errors import CellError
from .ocv import COUNTER_OCV
from .pattern import rate_factors
from .raman import Detector, SpotOptics, band_profile
from .si_electrode import SiElectrode
from .vox_electrode import VOxElectrode

_K_B_EV = 8.617333262e-5
_MODES = ("open", "current", "potential")
_MAX_DQ = 0.002  # largest state step, as a fraction of the nominal capacity
_NODE_UM = 0.05  # node spacing along the wire (um), well below the laser spot
_OPEN_CHUNK_S = 5.0  # time step (s) of transport along the wire at open circuit ...
_MAX_OPEN_CHUNKS = 400  # ... in at most this many steps per advance
_MAX_STEPS = 400  # most state steps one advance under current takes


@dataclass(frozen=True)
class DamageEvent:
    """Something the wiring did that would damage a real chip (e.g. a pad driven by two sources)."""

    t: float
    reason: str


@dataclass(frozen=True)
class _Drive:
    mode: str
    value: float
    we_pads: tuple[str, ...]


class CellModel:
    """Physical model of one chip (wire + counter film + electrolyte); thread-safe; simulated time t (s)."""

    def __init__(self, card: Card | str | Path, seed: int = 0) -> None:
        self.card = card if isinstance(card, Card) else load_card(card)
        c = self.card
        self.seed = seed
        pattern_ss, noise_ss, raman_ss, pad_ss = np.random.SeedSequence(seed).spawn(4)
        length = c.wire.exposed_length_um
        n = max(64, round(length / _NODE_UM))
        self._node_um = (np.arange(n) + 0.5) * (length / n)
        self._dl_um = length / n
        rate = rate_factors(np.random.default_rng(pattern_ss), n, length, c.wire.rate_factor_sigma,
                            c.wire.rate_factor_corr_um)
        self._kt = _K_B_EV * (c.temperature_C + 273.15)
        self._el: SiElectrode | VOxElectrode
        if c.wire.kind == "si_core_shell":
            # Li enters mostly at the end of the wire nearer the counter film (shortest ionic path)
            ctr_xy = np.array([np.mean(c.counter.region_um.x), np.mean(c.counter.region_um.y)])
            near_end = np.hypot(*(np.asarray(c.position_um.end) - ctr_xy)) < np.hypot(
                *(np.asarray(c.position_um.start) - ctr_xy))
            pads_um = tuple(p.along_wire_um for p in c.pads.values() if p.along_wire_um is not None)
            stress = np.log(rate_factors(np.random.default_rng(pattern_ss.spawn(1)[0]), n, length, 1.0,
                                         c.wire.rate_factor_corr_um * 2.0))
            stress = (stress - stress.mean()) / (stress.std() or 1.0)
            entry_end = length if near_end else 0.0
            self._el = SiElectrode(c.wire, rate, self._node_um, entry_end, self._kt, pads_um, stress)
            self._sigma_core = 1.0 / c.wire.rho_core_ohm_cm
        else:
            self._el = VOxElectrode(c.wire, rate)
            self._sigma_core = 0.0
        self._noise = np.random.default_rng(noise_ss)
        self._raman_rng = np.random.default_rng(raman_ss)
        pad_rng = np.random.default_rng(pad_ss)
        self.pads: dict[str, Pad] = dict(c.pads)
        self._pad_asym = {name: 1.0 + c.contacts.asymmetry * float(np.clip(pad_rng.standard_normal(), -2, 2))
                          for name in sorted(self.pads)}
        # counter film, electrolyte, kinetics
        ctr = c.counter
        self._ctr_ocv = COUNTER_OCV[ctr.ocv]
        uah = ctr.volumetric_capacity_uAh_cm2_um * ctr.area_um2 * 1e-8 * ctr.thickness_um
        self._ctr_capacity_C = uah * 3.6e-3
        self._ctr_sto = ctr.initial_sto
        self._kt = _K_B_EV * (c.temperature_C + 273.15)
        area_m2 = math.pi * self._el.diameter_m * self._el.length_m
        self._i0 = c.kinetics.j0_A_m2 * area_m2
        e = c.electrolyte
        self._r_el = (e.path_um * 1e-4) / (e.sigma_S_cm * e.cross_section_um2 * 1e-8)
        self._r_leak = e.leak_resistance_ohm
        self._eta_d = 0.0
        # Raman
        ax = c.raman.axis
        self._nu = np.linspace(ax.start_cm1, ax.stop_cm1, ax.points)
        start = np.asarray(c.position_um.start, float)
        end = np.asarray(c.position_um.end, float)
        node_xy = start + np.outer(self._node_um / length, end - start)
        self._optics = SpotOptics(c, node_xy, self._dl_um)
        self._detector = Detector(c, ax.points)
        self._film_profile = band_profile(self._nu, ctr.raman_bands)
        r = c.raman
        self._background = band_profile(self._nu, e.raman_bands) + r.fluorescence * (
            0.3 + 0.7 * np.exp(-(self._nu - self._nu[0]) / r.fluorescence_decay_cm1))
        # time and drive
        self._lock = threading.RLock()
        self._t: float | None = None
        self._drive = _Drive("open", 0.0, ())
        self._v_last = self._ocv_cell()
        self.damage: list[DamageEvent] = []

    # ---- geometry and identity ---------------------------------------------------------------------
    @property
    def wire_start_um(self) -> tuple[float, float]:
        return tuple(self.card.position_um.start)  # type: ignore[return-value]

    @property
    def wire_end_um(self) -> tuple[float, float]:
        return tuple(self.card.position_um.end)  # type: ignore[return-value]

    @property
    def wire_z_um(self) -> float:
        return self.card.position_um.z

    @property
    def nominal_capacity_Ah(self) -> float:
        """Capacity of the wire from its geometry (Ah)."""
        return self._el.capacity_C / 3600.0

    @property
    def we_is_positive(self) -> bool:
        """True if the wire (WE) is the cell's positive electrode (H2V3O8), False for the Si anode."""
        return not self._el.negative

    @property
    def wavenumbers(self) -> np.ndarray:
        """Raman shift axis (cm-1, float64); a copy."""
        return self._nu.copy()

    def device_info(self) -> dict[str, Any]:
        """Chip description for the station file's `device:` section."""
        c = self.card
        w = c.wire
        if isinstance(w, type(c.wire)) and w.kind == "si_core_shell":
            dims = {"core_diameter_nm": w.core_diameter_nm, "shell_thickness_nm": w.shell_thickness_nm,
                    "length_um": w.exposed_length_um}
        else:
            dims = {"diameter_nm": w.diameter_nm, "length_um": w.exposed_length_um}  # type: ignore[union-attr]
        return {
            "chip": c.chip,
            "wire": w.material,
            "materials": {"wire": w.material.split(" nanowire")[0].split(" core/shell")[0],
                          "counter": c.counter.material, "electrolyte": c.electrolyte.material},
            "dimensions": dims,
            "nominal_capacity_Ah": float(f"{self.nominal_capacity_Ah:.3e}"),
            "wire_position_um": {"start": list(self.wire_start_um), "end": list(self.wire_end_um),
                                 "z": self.wire_z_um},
        }

    # ---- electrochemistry -------------------------------------------------------------------------
    def _ocv_cell(self) -> float:
        u_ctr = self._ctr_ocv(self._ctr_sto)
        u_w = self._el.ocv()
        return u_ctr - u_w if self._el.negative else u_w - u_ctr

    def _li_into_wire(self, charge: float) -> float:
        """Li (C) into the wire for a cell charge (C, + = charging)."""
        return charge if self._el.negative else -charge

    def _eta_fast(self, current: float) -> float:
        return 2.0 * self._kt * math.asinh(current / (2.0 * self._i0)) + current * self._r_el

    def _solve_current(self, target: float, r_extra: float) -> float:
        """Current I (A) with 2kT asinh(I/2i0) + I (R_el + r_extra) = target (V); bracketed Newton."""
        if target == 0.0:
            return 0.0
        r = self._r_el + r_extra
        b = 2.0 * self._kt
        mag = abs(target)
        hi = min(mag / r, 2.0 * self._i0 * math.sinh(min(mag / b, 700.0)))
        lo = 0.0
        x = hi
        for _ in range(60):
            f = b * math.asinh(x / (2.0 * self._i0)) + x * r - mag
            if abs(f) < 1e-9 * mag + 1e-12:
                break
            if f > 0:
                hi = x
            else:
                lo = x
            fp = b / math.sqrt(x * x + 4.0 * self._i0**2) + r
            x_new = x - f / fp
            x = x_new if lo < x_new < hi else 0.5 * (lo + hi)
        return math.copysign(x, target)

    def _apply(self, charge: float, dt: float) -> None:
        """Pass cell charge (C) during dt (s): wire, counter film and the slow overpotential."""
        li = self._li_into_wire(charge)
        self._el.insert(li)
        self._el.evolve(dt)
        self._ctr_sto = min(max(self._ctr_sto - li / self._ctr_capacity_C, 0.0), 1.0)
        k = self.card.kinetics
        decay = math.exp(-dt / k.diffusion_tau_s)
        i_avg = charge / dt if dt > 0 else 0.0
        self._eta_d = self._eta_d * decay + k.diffusion_R_ohm * i_avg * (1.0 - decay)

    def _advance(self, t: float) -> None:
        t = float(t)
        if self._t is None:
            self._t = t
            return
        remaining = t - self._t
        if not remaining > 0.0:
            return  # time never runs backwards; a slightly earlier t from another thread is ignored
        drive = self._drive
        max_dq = _MAX_DQ * self._el.capacity_C
        k = self.card.kinetics
        while remaining > 0.0:
            if drive.mode == "open" or not drive.we_pads:
                self._eta_d *= math.exp(-remaining / k.diffusion_tau_s)
                # Li keeps moving along the wire and the c-Si front keeps going at open circuit
                chunks = min(_MAX_OPEN_CHUNKS, max(1, math.ceil(remaining / _OPEN_CHUNK_S)))
                for _ in range(chunks):
                    self._el.evolve(remaining / chunks)
                break
            if drive.mode == "current":
                current = drive.value - self._v_last / self._r_leak
                direction = 1 if self._li_into_wire(current) > 0 else -1
                if current == 0.0 or self._el.stuck(direction):
                    dt = remaining
                else:  # small steps, but a long gap (e.g. hours of plating) in at most _MAX_STEPS of them
                    dt = min(remaining, max(max_dq / abs(current), remaining / _MAX_STEPS))
                charge = current * dt
                self._v_last = self._ocv_cell() + self._eta_fast(current) + self._eta_d
            else:
                dt, charge = self._potential_step(drive.value, remaining, max_dq)
                self._v_last = drive.value
            self._apply(charge, dt)
            remaining -= dt
        self._t = t

    def _potential_step(self, v_set: float, remaining: float, max_dq: float) -> tuple[float, float]:
        """One implicit step under potential control: returns (dt, cell charge)."""
        k = self.card.kinetics
        dt = remaining
        current = 0.0
        for _ in range(2):  # size the step from the current it implies
            decay = math.exp(-dt / k.diffusion_tau_s)
            target = v_set - self._ocv_cell() - self._eta_d * decay
            current = self._solve_current(target, k.diffusion_R_ohm * (1.0 - decay))
            if current == 0.0:
                return remaining, 0.0
            direction = 1 if self._li_into_wire(current) > 0 else -1
            if self._el.stuck(direction):
                return remaining, current * remaining
            dt = min(remaining, max_dq / abs(current))
        decay = math.exp(-dt / k.diffusion_tau_s)
        r_diff = (2.0 * self._kt / math.sqrt(current**2 + 4.0 * self._i0**2) + self._r_el
                  + k.diffusion_R_ohm * (1.0 - decay))
        slope = self._el.slope(1 if self._li_into_wire(current) > 0 else -1)
        if slope > 0:
            # the OCV moves toward v_set as charge flows: relax exponentially instead of overshooting
            tau = r_diff / slope
            return dt, current * tau * -math.expm1(-dt / tau)
        return dt, current * dt

    def _check_pads(self, pads: Iterable[str], kind: str | None = None) -> tuple[str, ...]:
        out = tuple(pads)
        for name in out:
            pad = self.pads.get(name)
            if pad is None:
                raise CellError(f"unknown pad {name!r}; the chip has {', '.join(self.pads)}")
            if kind is not None and pad.kind != kind:
                raise CellError(f"pad {name!r} is a {pad.kind} pad, expected a {kind} pad")
        return out

    def set_drive(self, t: float, mode: str, value: float = 0.0, we_pads: Iterable[str] = ("S",)) -> None:
        """Switch the cell drive at t: "open", "current" (A, + = charge) or "potential" (V_cell, V).

        The state is first advanced to t under the previous drive. we_pads are the wire contacts joined to
        the working electrode lead; with none the cell is effectively open.
        """
        if mode not in _MODES:
            raise CellError(f"drive mode {mode!r} unknown; use one of {', '.join(_MODES)}")
        value = float(value)
        if not math.isfinite(value):
            raise CellError(f"drive value {value!r} is not a finite number")
        pads = self._check_pads(we_pads, "contact")
        with self._lock:
            self._advance(t)
            self._drive = _Drive(mode, value if mode != "open" else 0.0, pads)

    def advance(self, t: float) -> None:
        """Advance the state to t (s) under the present drive."""
        with self._lock:
            self._advance(t)

    def cell_voltage(self, t: float) -> float:
        """Full-cell voltage (V) at t: OCV + overpotentials (BV, IR, slow diffusion) + measurement noise."""
        with self._lock:
            self._advance(t)
            d = self._drive
            if d.mode == "potential" and d.we_pads:
                v = d.value
            elif d.mode == "current" and d.we_pads:
                current = d.value - self._v_last / self._r_leak
                v = self._ocv_cell() + self._eta_fast(current) + self._eta_d
            else:
                v = self._ocv_cell() + self._eta_d
            self._v_last = v
            return v + float(self._noise.normal(0.0, self.card.noise.voltage_V_rms))

    def cell_current(self, t: float) -> float:
        """Current (A, + = charge) through the cell leads at t, incl. the leakage path and noise."""
        with self._lock:
            self._advance(t)
            d = self._drive
            noise = float(self._noise.normal(0.0, self.card.noise.current_A_rms))
            if not d.we_pads or d.mode == "open":
                return noise
            if d.mode == "current":
                return d.value + noise
            current = self._solve_current(d.value - self._ocv_cell() - self._eta_d, 0.0)
            return current + d.value / self._r_leak + noise

    # ---- source/drain transport ----------------------------------------------------------------------
    def _segment(self, pad_a: str, pad_b: str) -> tuple[Junction, Junction, float]:
        a, b = self._check_pads((pad_a, pad_b), "contact")
        if a == b:
            raise CellError(f"source and drain are the same pad {a!r}")
        pa = self.pads[a].along_wire_um
        pb = self.pads[b].along_wire_um
        assert pa is not None and pb is not None
        lo, hi = min(pa, pb), max(pa, pb)
        sel = (self._node_um >= lo) & (self._node_um <= hi)
        sigma_area = self._el.node_sigma_area(self._sigma_core)[sel]
        r_wire = float(np.sum((self._dl_um * 1e-4) / np.maximum(sigma_area, 1e-300)))
        return self._junction(a), self._junction(b), r_wire

    def _junction(self, pad: str) -> Junction:
        """The pad's contact as the material under it is now: the barrier rises as the core under the
        contact is amorphised (the silicide/c-Si interface gives way to expanded, undoped a-LixSi) and with
        each further cycle of that material, not with the charge the cell has passed."""
        c = self.card.contacts
        along = self.pads[pad].along_wire_um
        assert along is not None
        amorphised, cycles = self._el.contact_state(along)
        per_cycle = c.phi_b_eV.per_cycle_increase * max(cycles - 1.0, 0.0)
        rise = (c.phi_b_eV.after_cycle1 - c.phi_b_eV.pristine + per_cycle) * amorphised
        phi = c.phi_b_eV.pristine + rise * self._pad_asym[pad]
        t_k = self.card.temperature_C + 273.15
        i_s = c.area_cm2 * c.richardson_A_cm2_K2 * t_k**2 * math.exp(-phi / self._kt)
        return Junction(max(i_s, 1e-30), c.ideality, c.barrier_lowering_eV_per_sqrtV)

    def wire_current(self, t: float, volts: float, pad_hi: str = "S", pad_lo: str = "D") -> float:
        """Current (A) from pad_hi to pad_lo along the wire at bias volts (V), with device noise."""
        with self._lock:
            self._advance(t)
            j_hi, j_lo, r_wire = self._segment(pad_hi, pad_lo)
            current = b2b_current(float(volts), j_hi, j_lo, r_wire, self._kt)
            n = self.card.noise
            return current * (1.0 + n.wire_relative_rms * float(self._noise.standard_normal())) + float(
                self._noise.normal(0.0, n.wire_abs_A_rms))

    def wire_conductance(self, t: float, pad_a: str = "S", pad_b: str = "D") -> float:
        """Noiseless zero-bias conductance (S) between two contacts (for comparison in tests)."""
        with self._lock:
            self._advance(t)
            j_a, j_b, r_wire = self._segment(pad_a, pad_b)
            return zero_bias_conductance(j_a, j_b, r_wire, self._kt)

    # ---- Raman ----------------------------------------------------------------------------------------
    def raman_spectrum(
        self, t: float, x_um: float, y_um: float, z_um: float, exposure_s: float, accumulations: int,
        laser_mW: float, rng: np.random.Generator | None = None,
    ) -> np.ndarray:
        """Counts (float32, one per wavenumber) of a spectrum taken with the spot at stage (x, y, z) (um)."""
        if exposure_s < 0 or laser_mW < 0 or int(accumulations) < 1:
            raise CellError(f"bad acquisition: exposure {exposure_s} s, accumulations {accumulations}, "
                            f"laser {laser_mW} mW")
        with self._lock:
            self._advance(t)
            w = self._optics.wire_weights(x_um, y_um, z_um)
            film = self._optics.film_fraction(x_um, y_um, z_um)
            rate = self._el.raman_rate(self._nu, w, laser_mW, self.card.raman)
            rate += self._background
            if film > 1e-6:
                rate += film * self._film_profile
            gen = rng if rng is not None else self._raman_rng
            return self._detector.expose(rate, laser_mW, exposure_s, int(accumulations), gen)

    # ---- bookkeeping ---------------------------------------------------------------------------------
    def reset(self) -> None:
        """Back to the pristine chip this model was built as (same card and seed): electrode, counter film,
        overpotentials, noise streams and damage record, as a new model would start; the drive is open.

        Attributes set on the instance from outside (a bench's wrapper of :meth:`wire_current`) stay."""
        fresh = CellModel(self.card, seed=self.seed)
        with self._lock:
            for name, value in vars(fresh).items():
                if name != "_lock":
                    setattr(self, name, value)

    def flag_damage(self, t: float, reason: str) -> None:
        """Record a wiring event that would damage a real chip (the model does not change)."""
        with self._lock:
            self.damage.append(DamageEvent(float(t), str(reason)))

    def snapshot(self) -> dict[str, Any]:
        """Internal state for logs and debugging (not an instrument reading)."""
        with self._lock:
            snap: dict[str, Any] = {"t": self._t, "drive": self._drive.mode, "drive_value": self._drive.value,
                                    "ocv_cell_V": self._ocv_cell(), "counter_sto": self._ctr_sto,
                                    "eta_slow_V": self._eta_d, "damage_events": len(self.damage)}
            snap.update(self._el.snapshot())
            return snap
