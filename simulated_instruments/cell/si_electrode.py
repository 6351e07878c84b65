"""Si/a-Si core/shell nanowire electrode: c-Si core, a-LixSi, Li15Si4 and plated Li, tracked in charge units.

Every amount is in coulombs of Li capacity (C). s = q_a / C_a is the Li fraction of the amorphous phase
(1 = Li15Si4-equivalent). First lithiation: the a-Si shell lithiates on the sloping a-Si branch until it
reaches the c-Si two-phase plateau (0.12 V vs Li); then the crystalline core is converted at that flat
potential, patchily along the wire (per-node rate factors), before the amorphous phase lithiates further.
Below 50 mV a-LixSi crystallises to Li15Si4, which delithiates on a flat 0.43 V plateau. The c-Si core
never comes back: after the first full cycle the wire is amorphous.
"""

from __future__ import annotations

import math

import numpy as np

from .card import Raman, SiWire
from .ocv import si_delithiation_mark2016, si_lithiation_mark2016
from .raman import gauss, lorentz

_MAH_TO_C = 3.6


class SiElectrode:
    """State and physics of the Si wire; Li in (dq > 0) = lithiation."""

    negative = True

    def __init__(self, card: SiWire, rate: np.ndarray) -> None:
        self.card = card
        r_core = card.core_diameter_nm * 0.5e-7  # cm
        r_tot = r_core + card.shell_thickness_nm * 1e-7
        length_cm = card.exposed_length_um * 1e-4
        self.area_core_cm2 = math.pi * r_core**2
        self.area_total_cm2 = math.pi * r_tot**2
        self.diameter_m = 2 * r_tot * 1e-2
        self.length_m = length_cm * 1e-2
        self.core_frac = self.area_core_cm2 / self.area_total_cm2
        mass_g = self.area_total_cm2 * length_cm * card.density_g_cm3
        self.capacity_C = mass_g * card.q_specific_mAh_g * _MAH_TO_C
        self.rate = rate
        self.f = np.ones_like(rate)  # crystalline fraction of the core at each node
        self.c_a = (1.0 - self.core_frac) * self.capacity_C
        self.q_a = 0.0
        self.c_l = 0.0  # Li15Si4 (always full)
        self.q_plated = 0.0
        self.h = 1.0  # hysteresis branch: +1 lithiation, -1 delithiation
        self.throughput = 0.0
        self.q_sei = 0.0
        self.q_side = 0.0
        self.q_dead = 0.0
        self.s_thr = self._solve_threshold()

    # ---- thermodynamics -------------------------------------------------------------------------
    @property
    def s(self) -> float:
        return self.q_a / self.c_a if self.c_a > 0 else 1.0

    def u_amorphous(self, s: float, h: float) -> float:
        """a-LixSi potential (V vs Li) at Li fraction s on branch h, with steep edges when empty/full."""
        c = self.card
        lith = si_lithiation_mark2016(s)
        delith = si_delithiation_mark2016(s)
        u = delith + (lith - delith) * 0.5 * (1.0 + h)
        w = c.edge_width
        low = c.low_edge_V * math.exp(-max(s, 0.0) / w)
        return u + low - c.high_edge_V * math.exp(-max(1.0 - s, 0.0) / w)

    def ocv(self) -> float:
        """Equilibrium potential of the wire (V vs Li) on the present hysteresis branch."""
        return self.u_amorphous(self.s, self.h)

    def _solve_threshold(self) -> float:
        lo, hi = 0.3, 1.0
        for _ in range(50):
            mid = 0.5 * (lo + hi)
            if self.u_amorphous(mid, 1.0) > self.card.li15si4_threshold_V:
                lo = mid
            else:
                hi = mid
        return lo

    def crystalline_mean(self) -> float:
        return float(self.f.mean())

    def _converting(self) -> bool:
        return self.f.any() and self.ocv() <= self.card.first_cycle_plateau_V

    def _dissolving_li15si4(self) -> bool:
        return self.c_l > 0 and self.u_amorphous(self.s, -1.0) >= self.card.li15si4_plateau_V

    def slope(self, direction: int) -> float:
        """|dU/dq| (V/C) for a small step of Li in direction +1 / out -1; 0 on two-phase plateaus."""
        if direction > 0 and (self._converting() or self.stuck(1)):
            return 0.0
        if direction < 0 and (self.q_plated > 0 or self._dissolving_li15si4() or self.stuck(-1)):
            return 0.0
        ds = 1e-3
        du = self.u_amorphous(self.s + direction * ds, self.h) - self.u_amorphous(self.s, self.h)
        return abs(du) / (ds * self.c_a)

    def stuck(self, direction: int) -> bool:
        """True if more charge in this direction no longer changes the potential (plating / side reaction)."""
        if direction > 0:
            return self.s >= 1.0 and not self.f.any()
        return self.q_plated <= 0 and self.q_a <= 0 and self.c_l <= 0

    # ---- kinetics of the state --------------------------------------------------------------------
    def insert(self, dq: float) -> None:
        """Move dq coulombs of Li into (dq > 0) or out of (dq < 0) the wire."""
        if dq == 0.0:
            return
        self.throughput += abs(dq)
        sign = 1.0 if dq > 0 else -1.0
        self.h = sign + (self.h - sign) * math.exp(-self.card.hysteresis_rate * abs(dq) / self.capacity_C)
        if dq > 0:
            self._lithiate(dq)
        else:
            self._delithiate(-dq)

    def _lithiate(self, dq: float) -> None:
        c = self.card
        q_max = c.sei_capacity_fraction * self.capacity_C
        if q_max > 0:
            sei = dq * c.sei_fraction_initial * math.exp(-self.q_sei / q_max)
            self.q_sei += sei
            dq -= sei
        if self._converting():
            dq -= self._convert_core(dq)
        room = max(self.c_a - self.q_a, 0.0)
        take = min(dq, room)
        self.q_a += take
        self.q_plated += dq - take
        self._crystallise()

    def _convert_core(self, dq: float) -> float:
        """Two-phase c-Si -> a-LixSi at the plateau; returns the charge used. Faster nodes convert first."""
        s_p = max(self.s, 0.5)
        core_c = self.core_frac * self.capacity_C
        want = dq / (s_p * core_c)  # drop of the mean crystalline fraction
        w = self.rate * np.sqrt(self.f)
        total = w.sum()
        if total <= 0:
            return 0.0
        new_f = np.maximum(self.f - want * w * (self.f.size / total), 0.0)
        converted = float((self.f - new_f).mean()) * core_c
        self.f = new_f
        self.c_a += converted
        self.q_a += converted * s_p
        return converted * s_p

    def _crystallise(self) -> None:
        c = self.card
        if self.u_amorphous(self.s, self.h) >= c.li15si4_threshold_V:
            return
        room = c.li15si4_max_fraction * self.capacity_C - self.c_l
        excess = (self.q_a - self.s_thr * self.c_a) / (1.0 - self.s_thr)
        d = min(max(excess, 0.0), max(room, 0.0), self.q_a)
        self.c_l += d
        self.c_a -= d
        self.q_a -= d

    def _delithiate(self, r: float) -> None:
        c = self.card
        take = min(r, self.q_plated)
        self.q_plated -= take
        r -= take
        if r > 0 and self._dissolving_li15si4():
            s = self.s
            d = min(r / (1.0 - s), self.c_l)
            self.c_l -= d
            self.c_a += d
            self.q_a += d * s
            r -= d * (1.0 - s)
        take = min(r, self.q_a)
        self.q_a -= take
        r -= take
        self.q_side += r
        # active material lost with its Li (cracks, contact loss): fade_per_cycle per full delithiation
        lost = c.fade_per_cycle * take / self.capacity_C
        s = self.s
        self.q_dead += lost * self.q_a
        self.c_a *= 1.0 - lost
        self.q_a = s * self.c_a

    # ---- what the other observables see ----------------------------------------------------------
    def full_cycles(self) -> float:
        """Equivalent full cycles: charge throughput / (2 x nominal capacity)."""
        return self.throughput / (2.0 * self.capacity_C)

    def node_sigma_area(self, sigma_core: float) -> np.ndarray:
        """sigma*A (S cm) at each node: doped c-Si core + converted core + a-Si shell, less damage."""
        c = self.card
        damage = 10.0 ** (-c.damage_decades_per_cycle * self.full_cycles() * np.sqrt(self.rate))
        shell = self.area_total_cm2 - self.area_core_cm2
        return (
            sigma_core * self.area_core_cm2 * self.f
            + (c.sigma_converted_S_cm * self.area_core_cm2 * (1.0 - self.f) + c.sigma_aSi_S_cm * shell)
            * damage
        )

    def raman_rate(self, nu: np.ndarray, w: np.ndarray, laser_mW: float, r: Raman) -> np.ndarray:
        """Wire signal (counts/(s mW)) for node weights w: c-Si Lorentzian (heated) + a-Si Gaussian."""
        out = np.zeros_like(nu)
        if r.si_height <= 0:
            return out
        c_amt = float(np.dot(w, self.f))
        s = min(max(self.s, 0.0), 1.0)
        # a-Si band per volume of the wire (Li15Si4 and lithiated a-LixSi give essentially no band)
        amorphous = np.maximum(1.0 - self.core_frac * self.f - self.c_l / self.capacity_C, 0.0)
        a_amt = float(np.dot(w, amorphous)) * (1.0 - s) ** 2 / self.core_frac
        if c_amt > 1e-9:
            d_t = laser_mW * r.heating_K_per_mW * (1.0 + r.heating_lithiated_factor * s)
            center = r.si_peak_cm1 - r.si_confinement_shift_cm1 + r.heating_shift_cm1_per_K * d_t
            width = r.si_fwhm_cm1 + r.heating_broadening_cm1_per_K * d_t
            out += (r.si_height * c_amt) * lorentz(nu, center, width)
        if a_amt > 1e-9:
            # integrated a-Si intensity per volume = c-Si's / y, so that the analysis' Xc = Ic/(Ic + y Ia)
            # recovers the crystalline volume fraction (y = c-Si/a-Si cross-section ratio, as in the
            # literature formula). Lorentz area (pi/2) G / Gauss area 1.0645 G.
            area_ratio = (math.pi / 2 * r.si_fwhm_cm1) / (1.0645 * r.aSi_fwhm_cm1)
            h_a = r.si_height * area_ratio / r.y_cross_section_ratio
            out += (h_a * a_amt) * gauss(nu, r.aSi_center_cm1, r.aSi_fwhm_cm1)
        return out

    def snapshot(self) -> dict[str, float]:
        return {
            "li_fraction_amorphous": self.s,
            "hysteresis_branch": self.h,
            "crystalline_fraction_core": self.crystalline_mean(),
            "li15si4_capacity_fraction": self.c_l / self.capacity_C,
            "amorphous_capacity_fraction": self.c_a / self.capacity_C,
            "plated_li_C": self.q_plated,
            "sei_C": self.q_sei,
            "side_reaction_C": self.q_side,
            "dead_li_C": self.q_dead,
            "full_cycles": self.full_cycles(),
            "ocv_vs_li_V": self.ocv(),
        }
