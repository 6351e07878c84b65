"""H2V3O8 nanowire electrode: Li insertion x (Li per formula unit) with a sum-of-tanh OCV and damage.

Conductance: log10 G falls by a reversible amount that follows the present Li content (polaron
hopping on reduced V4+) and by an irreversible amount once the deepest x reached passes deep_x_critical
(phase change / amorphisation): shallow cycles recover, deep discharge does not.
"""

from __future__ import annotations

import math

import numpy as np

from .card import H2V3O8Wire, Raman
from .ocv import tanh_steps
from .raman import lorentz

_MAH_TO_C = 3.6


class VOxElectrode:
    """State of the H2V3O8 wire; Li in (dq > 0) = lithiation = cell DISCHARGE (wire = positive side)."""

    negative = False

    def __init__(self, card: H2V3O8Wire, rate: np.ndarray) -> None:
        self.card = card
        r_cm = card.diameter_nm * 0.5e-7
        length_cm = card.exposed_length_um * 1e-4
        self.area_total_cm2 = math.pi * r_cm**2
        self.diameter_m = 2 * r_cm * 1e-2
        self.length_m = length_cm * 1e-2
        mass_g = self.area_total_cm2 * length_cm * card.density_g_cm3
        self.per_li_C = mass_g * card.q_per_Li_mAh_g * _MAH_TO_C
        self.capacity_C = self.per_li_C * card.x_max
        self.local = np.sqrt(rate) / np.sqrt(rate).mean()  # local Li content relative to the mean
        self.x = card.initial_x
        self.x_deepest = card.initial_x
        self.h = 1.0
        self.throughput = 0.0
        self.q_side = 0.0
        self.active = 1.0  # fraction of the material still active (fade)
        self._steps = tuple(tuple(s) for s in card.ocv_steps)

    def u(self, x: float, h: float) -> float:
        c = self.card
        x_top = c.x_max * self.active
        u = tanh_steps(x, c.ocv_u0_V, c.ocv_slope_V, self._steps) - 0.5 * c.hysteresis_V * h
        w = c.edge_width
        low = c.low_edge_V * math.exp(-max(x, 0.0) / w)
        return u + low - c.high_edge_V * math.exp(-max(x_top - x, 0.0) / w)

    def ocv(self) -> float:
        """Equilibrium potential (V vs Li) on the present hysteresis branch."""
        return self.u(self.x, self.h)

    def slope(self, direction: int) -> float:
        """|dU/dq| (V/C) for Li in (+1) or out (-1)."""
        if self.stuck(direction):
            return 0.0
        dx = 1e-3
        return abs(self.u(self.x + direction * dx, self.h) - self.ocv()) / (dx * self.per_li_C)

    def stuck(self, direction: int) -> bool:
        if direction > 0:
            return self.x >= self.card.x_max * self.active
        return self.x <= 0.0

    def insert(self, dq: float) -> None:
        """Move dq coulombs of Li into (> 0) or out of (< 0) the wire; excess goes to side reactions."""
        if dq == 0.0:
            return
        c = self.card
        self.throughput += abs(dq)
        sign = 1.0 if dq > 0 else -1.0
        self.h = sign + (self.h - sign) * math.exp(-c.hysteresis_rate * abs(dq) / self.per_li_C)
        x_new = self.x + dq / (self.per_li_C * self.active)
        x_cl = min(max(x_new, 0.0), c.x_max * self.active)
        self.q_side += abs(x_new - x_cl) * self.per_li_C
        if dq < 0:
            self.active *= 1.0 - c.fade_per_cycle * (self.x - x_cl) / c.x_max
        self.x = x_cl
        self.x_deepest = max(self.x_deepest, self.x)

    def full_cycles(self) -> float:
        return self.throughput / (2.0 * self.capacity_C)

    def decades_lost(self) -> np.ndarray:
        """Per-node log10 conductance loss: reversible (present x) + irreversible (deepest x)."""
        c = self.card
        x_loc = np.maximum(self.x - c.initial_x, 0.0) * self.local  # inserted since synthesis
        deep = np.maximum(self.x_deepest * self.local - c.deep_x_critical, 0.0)
        rev = c.reversible_decades * (1.0 - np.exp(-x_loc / c.reversible_x_scale))
        irr = c.irreversible_decades * (1.0 - np.exp(-deep / c.irreversible_x_scale))
        return rev + irr

    def evolve(self, dt: float) -> None:
        """Nothing moves at open circuit (Li insertion is fast and uniform enough in the oxide)."""

    def contact_state(self, along_um: float) -> tuple[float, float]:
        """(irreversibly transformed fraction of the oxide at a contact, full cycles): the mean over the wire
        (the oxide's state is resolved only through the rate pattern)."""
        c = self.card
        deep = np.maximum(self.x_deepest * self.local - c.deep_x_critical, 0.0)
        return float(np.mean(1.0 - np.exp(-deep / c.irreversible_x_scale))), self.full_cycles()

    def node_sigma_area(self, _sigma_core: float) -> np.ndarray:
        """sigma*A (S cm) at each node."""
        return self.card.sigma0_S_cm * self.area_total_cm2 * 10.0 ** (-self.decades_lost())

    def raman_rate(self, nu: np.ndarray, w: np.ndarray, laser_mW: float, r: Raman) -> np.ndarray:
        """Wire bands: weaken, down-shift and broaden with Li content and damage."""
        weight = float(w.sum())
        out = np.zeros_like(nu)
        if weight < 1e-9 or not r.wire_bands:
            return out
        x_loc = float(np.dot(w, self.x * self.local)) / weight
        deep = max(self.x_deepest - self.card.deep_x_critical, 0.0)
        amp = weight * max(1.0 - 0.15 * x_loc, 0.2) * math.exp(-0.5 * deep)
        d_t = laser_mW * r.heating_K_per_mW
        for b in r.wire_bands:
            center = b.center_cm1 * (1.0 - 0.01 * x_loc) - 0.01 * d_t
            width = b.fwhm_cm1 * (1.0 + 0.25 * x_loc + 0.5 * deep)
            out += (b.height * amp) * lorentz(nu, center, width)
        return out

    def snapshot(self) -> dict[str, float]:
        return {
            "x_li_per_fu": self.x,
            "x_deepest": self.x_deepest,
            "hysteresis_branch": self.h,
            "active_fraction": self.active,
            "side_reaction_C": self.q_side,
            "full_cycles": self.full_cycles(),
            "ocv_vs_li_V": self.ocv(),
        }
