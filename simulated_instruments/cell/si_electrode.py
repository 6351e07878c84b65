"""Si/a-Si core/shell nanowire electrode: c-Si core, a-LixSi, Li15Si4 and plated Li, tracked in charge units.

Every amount is in coulombs of Li capacity (C), resolved along the wire (nodes): per node the amorphous
capacity ``a`` (a-Si shell plus converted core), its Li ``q`` (local Li fraction s = q/a, 1 =
Li15Si4-equivalent) and the crystalline fraction ``f`` of the c-Si core.

- Li enters where the wire meets the electrolyte: not under the passivation around each contact pad
  (``passivated_um`` either side, its edge thinning over ``passivation_edge_um``), and more where the
  ionic path from the counter film is shorter (entry
  weights fall off along the wire over ``li_entry_length_um``); on one equipotential wire the current also
  favours places whose local potential is higher (Tafel). Li then moves along the wire, into the passivated
  stretches and under the contacts, by diffusion in the a-LixSi (``axial_diffusivity_cm2_s``).
- First lithiation of the c-Si core is a two-phase reaction front: where the amorphous Li content around the
  core exceeds the content at the c-Si plateau potential (``first_cycle_plateau_V``), the front advances at a
  rate ``front_rate_per_s`` x a seeded log-normal pattern (defects, surface oxide, local strain:
  ``rate_factor_sigma``) x the Li excess, slowed as it goes in by the stress it builds
  (``front_stress_factor``) and halted at a thin residual core (``front_residual_core``, a fraction of the
  core's cross-section: self-limiting lithiation of thin wires, Wang et al. ACS Nano 2014), or earlier
  where the local stress is higher (a seeded smooth field x ``front_stop_spread``), a limit that relaxes
  as the material cycles (``front_stop_relax_cycles``). Conversion draws Li from the amorphous
  phase, which pins the potential near the plateau while the front keeps up with the current; a current
  faster than the front, or a charge that ends first, leaves the core partly crystalline and unevenly so.
- Below 50 mV a-LixSi crystallises to Li15Si4 (delithiates on a flat 0.43 V plateau). The c-Si never comes
  back.
- Observables follow the state: conductivity of the amorphous material rises with its Li content
  (a-Si -> LixSi) and falls with the Li cycled through it (voids, cracks); the a-Si Raman band shifts and
  broadens with that cycling (bond-angle disorder); a contact's state is the core under it.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.fft import dct, idct

from .card import Raman, SiWire
from .ocv import _SI_DELITH, _SI_LITH, si_delithiation_mark2016, si_lithiation_mark2016
from .raman import gauss, lorentz

_MAH_TO_C = 3.6
_CONTACT_OVERLAP_UM = 1.0
"""Length of wire under a contact pad (um)."""
_THROUGH_PASSIVATION = 1e-3
"""Li entry under the passivation relative to the open wire (pinholes)."""
_DISORDER_CYCLES = 0.5
"""Local full cycles over which the a-Si band moves to its cycled position and width."""


def _solve(fn, target: float, lo: float = 0.0, hi: float = 1.0) -> float:
    """s in [lo, hi] with fn(s) = target for a decreasing fn (bisection)."""
    for _ in range(50):
        mid = 0.5 * (lo + hi)
        if fn(mid) > target:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


class SiElectrode:
    """State and physics of the Si wire; Li in (dq > 0) = lithiation."""

    negative = True

    def __init__(self, card: SiWire, rate: np.ndarray, node_um: np.ndarray | None = None,
                 entry_end_um: float = 0.0, kt_V: float = 0.0287, pads_um: tuple[float, ...] = (),
                 stress: np.ndarray | None = None) -> None:
        self.card = card
        self.two_kt = 2.0 * kt_V  # Tafel slope of the symmetric charge transfer (V per e-fold)
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
        n = rate.size
        self.rate = rate
        self.node_um = node_um if node_um is not None else (np.arange(n) + 0.5) * (card.exposed_length_um / n)
        entry = np.exp(-np.abs(self.node_um - entry_end_um) / card.li_entry_length_um)
        if pads_um:  # the passivation around each pad keeps the electrolyte off that stretch of wire
            to_pad = np.min(np.abs(self.node_um[:, None] - np.asarray(pads_um)[None, :]), axis=1)
            # the film thins toward its edge: Li comes in gradually over passivation_edge_um
            ramp = (to_pad - card.passivated_um) / card.passivation_edge_um + 0.5
            entry = entry * np.clip(ramp, _THROUGH_PASSIVATION, 1.0)
        self.entry = entry / entry.sum()
        self.front_k = card.front_rate_per_s * rate
        # where the front stops (fraction of the core left) before any cycling: a thin residual core, or more
        # where the local stress is higher (seeded smooth field, mean 0, sd 1: thicker shell, oxide, kinks)
        z = np.zeros(n) if stress is None else stress
        self.stop0 = np.clip(card.front_stop_spread * z, 0.0, 0.9)
        self.node_C = self.capacity_C / n  # capacity of one node
        self.core_node_C = self.core_frac * self.node_C
        self.f = np.ones(n)  # crystalline fraction of the core at each node
        self.a = np.full(n, (1.0 - self.core_frac) * self.node_C)  # amorphous capacity per node (C)
        self.q = np.zeros(n)  # Li in the amorphous phase per node (C)
        self.cycled = np.zeros(n)  # Li moved in and out of each node / its capacity (2 per full cycle)
        self._k2 = (math.pi * np.arange(n) / length_cm) ** 2  # axial modes (1/cm2), reflecting ends
        self.c_l = 0.0  # Li15Si4 (always full)
        self.q_plated = 0.0
        self.h = 1.0  # hysteresis branch: +1 lithiation, -1 delithiation
        self.throughput = 0.0
        self.q_sei = 0.0
        self.q_side = 0.0
        self.q_dead = 0.0
        self.s_thr = _solve(lambda s: self.u_amorphous(s, 1.0), card.li15si4_threshold_V, 0.3, 1.0)
        self.s_plat = _solve(lambda s: self.u_amorphous(s, 1.0), card.first_cycle_plateau_V, 0.05, 1.0)

    # ---- amounts ----------------------------------------------------------------------------------
    @property
    def c_a(self) -> float:
        return float(self.a.sum())

    @property
    def q_a(self) -> float:
        return float(self.q.sum())

    @property
    def s(self) -> float:
        c_a = self.c_a
        return self.q_a / c_a if c_a > 0 else 1.0

    @property
    def s_surface(self) -> float:
        """Li fraction where the current enters (entry-weighted): what sets the electrode's potential."""
        if self.c_a <= 0:
            return 1.0
        return float(np.dot(self.entry, self.s_local()))

    def s_local(self) -> np.ndarray:
        """Li fraction of the amorphous phase at each node (a node all Li15Si4 sits at the threshold)."""
        has = self.a > 1e-9 * self.node_C
        return np.where(has, np.clip(self.q / np.where(has, self.a, 1.0), 0.0, 1.0), self.s_thr)

    # ---- thermodynamics -------------------------------------------------------------------------
    def u_amorphous(self, s: float, h: float) -> float:
        """a-LixSi potential (V vs Li) at Li fraction s on branch h, with steep edges when empty/full."""
        c = self.card
        lith = si_lithiation_mark2016(s)
        delith = si_delithiation_mark2016(s)
        u = delith + (lith - delith) * 0.5 * (1.0 + h)
        w = c.edge_width
        low = c.low_edge_V * math.exp(-max(s, 0.0) / w)
        return u + low - c.high_edge_V * math.exp(-max(1.0 - s, 0.0) / w)

    def u_nodes(self, h: float) -> np.ndarray:
        """Local a-LixSi potential (V vs Li) at each node on branch h (vectorised u_amorphous)."""
        c = self.card
        s = self.s_local()
        lith = np.polyval(_SI_LITH, s)
        delith = np.polyval(_SI_DELITH, s)
        u = delith + (lith - delith) * 0.5 * (1.0 + h)
        w = c.edge_width
        return u + c.low_edge_V * np.exp(-s / w) - c.high_edge_V * np.exp(-(1.0 - s) / w)

    def _share(self, direction: int) -> tuple[np.ndarray, float]:
        """Where the current goes along the wire and the electrode potential it sees (V vs Li).

        The wire is one equipotential: in the Tafel regime node i passes i0 * entry_i * exp(+-(U_i - phi) /
        2kT), so Li goes preferentially where the local potential is highest (least lithiated, e.g. where
        the c-Si front holds it at the plateau) and leaves where it is lowest; the electrode potential is the
        entry-weighted soft maximum (lithiation) or soft minimum (delithiation) of the local potentials."""
        z = direction * self.u_nodes(self.h) / self.two_kt
        active = self.a > 1e-3 * self.node_C  # places left with a-LixSi (not all Li15Si4)
        if active.any():
            z = np.where(active, z, -np.inf)
        top = float(z.max())
        w = self.entry * np.exp(z - top)
        total = float(w.sum())
        return w / total, direction * self.two_kt * (top + math.log(total))

    def ocv(self) -> float:
        """Potential of the wire (V vs Li) on the present hysteresis branch, where the Li enters or leaves
        (regions the Li has not reached equilibrate only as it moves along the wire)."""
        up = self._share(1)[1]
        down = self._share(-1)[1]
        return down + (up - down) * 0.5 * (1.0 + self.h)

    def crystalline_mean(self) -> float:
        return float(self.f.mean())

    def front_stop(self) -> np.ndarray:
        """Core fraction at which the front stops at each node: the residual core plus the stress-limited
        part, which relaxes as the material around it cycles (cracks relieve the stress)."""
        c = self.card
        relaxed = self.stop0 * np.exp(-0.5 * self.cycled / c.front_stop_relax_cycles)
        return c.front_residual_core + (1.0 - c.front_residual_core) * relaxed

    def _convertible(self) -> np.ndarray:
        return self.f > self.front_stop() + 1e-9

    def _converting(self) -> bool:
        return bool(np.any(self._convertible() & (self.s_local() > self.s_plat)))

    def _dissolving_li15si4(self) -> bool:
        return self.c_l > 0 and self.u_amorphous(self.s, -1.0) >= self.card.li15si4_plateau_V

    def slope(self, direction: int) -> float:
        """|dU/dq| (V/C) for a small step of Li in direction +1 / out -1; 0 on two-phase plateaus."""
        if direction > 0 and (self._converting() or self.stuck(1)):
            return 0.0
        if direction < 0 and (self.q_plated > 0 or self._dissolving_li15si4() or self.stuck(-1)):
            return 0.0
        ds = 1e-3
        s = self.s_surface
        du = self.u_amorphous(s + direction * ds, self.h) - self.u_amorphous(s, self.h)
        return abs(du) / (ds * max(self.c_a, 1e-30))

    def stuck(self, direction: int) -> bool:
        """True if more charge in this direction no longer changes the potential (plating / side reaction)."""
        if direction > 0:
            # every node full: more Li plates (a front still running makes room again in evolve)
            return bool(np.all(self.q >= self.a * (1.0 - 1e-9)))
        return self.q_plated <= 0 and self.q_a <= 0 and self.c_l <= 0

    # ---- charge passed ----------------------------------------------------------------------------
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
        # Li enters by the entry weights; a full node passes its share on to the others (by their room)
        room = np.maximum(self.a - self.q, 0.0)
        add = np.minimum(dq * self._share(1)[0], room)
        rest = dq - float(add.sum())
        left = room - add
        total = float(left.sum())
        if rest > 0 and total > 0:
            more = min(rest, total)
            add += left * (more / total)
            rest -= more
        self.q += add
        self.cycled += add / self.node_C
        self.q_plated += max(rest, 0.0)
        self._crystallise()

    def _crystallise(self) -> None:
        """Where a-LixSi is lithiated below the Li15Si4 threshold potential, the excess crystallises."""
        room = self.card.li15si4_max_fraction * self.capacity_C - self.c_l
        if room <= 0:
            return
        d = np.minimum(np.maximum((self.q - self.s_thr * self.a) / (1.0 - self.s_thr), 0.0), self.q)
        total = float(d.sum())
        if total <= 0:
            return
        if total > room:
            d *= room / total
        self.c_l += float(d.sum())
        self.a -= d
        self.q -= d

    def _delithiate(self, r: float) -> None:
        c = self.card
        take = min(r, self.q_plated)
        self.q_plated -= take
        r -= take
        if r > 0 and self._dissolving_li15si4():
            s = self.s
            d = min(r / (1.0 - s), self.c_l)
            self.c_l -= d
            share = self.a / self.a.sum()
            self.a += d * share
            self.q += d * s * share
            r -= d * (1.0 - s)
        take = min(r, self.q_a)
        out = np.zeros_like(self.q)
        need = take
        share = self._share(-1)[0]
        for _ in range(4):  # Li leaves by the current's share; an emptied node passes it on
            w = share * (self.q - out)
            total = float(w.sum())
            if need <= 1e-18 * self.capacity_C or total <= 0:
                break
            part = np.minimum(need * w / total, self.q - out)
            out += part
            need -= float(part.sum())
        out = np.minimum(out, self.q)
        self.q -= out
        self.cycled += out / self.node_C
        took = float(out.sum())
        self.q_side += r - took
        # active material lost with its Li (cracks, contact loss): fade_per_cycle per full delithiation
        lost = c.fade_per_cycle * took / self.capacity_C
        self.q_dead += lost * self.q_a
        self.a *= 1.0 - lost
        self.q *= 1.0 - lost

    # ---- time ---------------------------------------------------------------------------------------
    def evolve(self, dt: float) -> None:
        """dt seconds of Li transport along the wire and of the c-Si reaction front."""
        c = self.card
        if dt <= 0:
            return
        if c.axial_diffusivity_cm2_s > 0 and self.q.any():
            # diffusion of the Li fraction along the wire (exact per mode; ends reflect), Li conserved
            total = float(self.q.sum())
            decay = np.exp(-c.axial_diffusivity_cm2_s * self._k2 * dt)
            s_new = idct(dct(self.s_local(), norm="ortho") * decay, norm="ortho")
            q_new = np.clip(s_new, 0.0, 1.0) * self.a
            self.q = np.minimum(q_new * (total / max(float(q_new.sum()), 1e-300)), self.a)
        if c.front_rate_per_s > 0 and self._convertible().any():
            excess = np.maximum(self.s_local() - self.s_plat, 0.0) / (1.0 - self.s_plat)
            if excess.any():
                stop = self.front_stop()
                left = np.maximum(self.f - stop, 0.0) / (1.0 - stop)
                speed = (self.front_k * np.sqrt(left)
                         * np.exp(-c.front_stress_factor * (1.0 - self.f)) * excess)
                # the front stops where the Li around it has fallen to the plateau content
                dc = np.minimum(np.minimum(speed * dt, self.f - np.minimum(self.f, stop))
                                * self.core_node_C,
                                np.maximum(self.q / self.s_plat - self.a, 0.0))
                self.f = np.maximum(self.f - dc / self.core_node_C, 0.0)
                self.a += dc

    # ---- what the other observables see ----------------------------------------------------------
    def full_cycles(self) -> float:
        """Equivalent full cycles: charge throughput / (2 x nominal capacity)."""
        return self.throughput / (2.0 * self.capacity_C)

    def node_sigma_area(self, sigma_core: float) -> np.ndarray:
        """sigma*A (S cm) at each node: crystalline core + amorphous (shell and converted core) whose
        conductivity rises with its Li content (a-Si -> LixSi) and falls with the Li cycled through it (voids,
        cracks)."""
        c = self.card
        s = self.s_local()
        sigma_a = c.sigma_aSi_S_cm * (c.sigma_lithiated_S_cm / c.sigma_aSi_S_cm) ** s
        damage = np.exp(-c.cycled_damage_per_cycle * 0.5 * self.cycled)
        # a thinned core cracks as the a-LixSi around it swells and shrinks: it loses continuity with the
        # Li cycled around it, in proportion to how much of it is gone
        core = np.exp(-c.cycled_damage_per_cycle * 0.5 * self.cycled * (1.0 - self.f))
        amorphous_area = self.area_total_cm2 - self.area_core_cm2 * self.f
        return sigma_core * self.area_core_cm2 * self.f * core + sigma_a * amorphous_area * damage

    def contact_state(self, along_um: float) -> tuple[float, float]:
        """(amorphised fraction of the core at a contact at along_um, full cycles of that material): the wire
        under the pad and out to the edge of the passivation around it, where the current spreads into the
        core and where the swelling wire pulls on the pad."""
        sel = np.abs(self.node_um - along_um) <= self.card.passivated_um + 0.5 * _CONTACT_OVERLAP_UM
        if not sel.any():
            sel = np.abs(self.node_um - along_um) == np.abs(self.node_um - along_um).min()
        return float(1.0 - self.f[sel].mean()), float(0.5 * self.cycled[sel].mean())

    def raman_rate(self, nu: np.ndarray, w: np.ndarray, laser_mW: float, r: Raman) -> np.ndarray:
        """Wire signal (counts/(s mW)) for node weights w: c-Si Lorentzian (heated) + a-Si Gaussian whose
        position and width follow the Li cycled through the material in the spot."""
        out = np.zeros_like(nu)
        if r.si_height <= 0:
            return out
        c_amt = float(np.dot(w, self.f))
        s_loc = self.s_local()
        # a-Si band per volume of the wire (Li15Si4 and lithiated a-LixSi give essentially no band)
        amorphous = np.maximum(1.0 - self.core_frac * self.f - self.c_l / self.capacity_C, 0.0)
        wa = w * amorphous * (1.0 - s_loc) ** 2
        a_amt = float(wa.sum()) / self.core_frac
        if c_amt > 1e-9:
            s_spot = float(np.dot(w, s_loc)) / max(float(w.sum()), 1e-12)
            d_t = laser_mW * r.heating_K_per_mW * (1.0 + r.heating_lithiated_factor * s_spot)
            center = r.si_peak_cm1 - r.si_confinement_shift_cm1 + r.heating_shift_cm1_per_K * d_t
            width = r.si_fwhm_cm1 + r.heating_broadening_cm1_per_K * d_t
            out += (r.si_height * c_amt) * lorentz(nu, center, width)
        if a_amt > 1e-9:
            # bond-angle disorder grows with the Li cycled through the material: the TO band red-shifts
            # and broadens (Beeman: width ~ bond-angle spread)
            disorder = float(np.dot(wa, 1.0 - np.exp(-0.5 * self.cycled / _DISORDER_CYCLES)) / wa.sum())
            center = r.aSi_center_cm1 + (r.aSi_center_cycled_cm1 - r.aSi_center_cm1) * disorder
            fwhm = r.aSi_fwhm_cm1 + (r.aSi_fwhm_cycled_cm1 - r.aSi_fwhm_cm1) * disorder
            # integrated a-Si intensity per volume = c-Si's / y, so that the analysis' Xc = Ic/(Ic + y Ia)
            # recovers the crystalline volume fraction (y = c-Si/a-Si cross-section ratio, as in the
            # literature formula). Lorentz area (pi/2) G / Gauss area 1.0645 G.
            area_ratio = (math.pi / 2 * r.si_fwhm_cm1) / (1.0645 * fwhm)
            h_a = r.si_height * area_ratio / r.y_cross_section_ratio
            out += (h_a * a_amt) * gauss(nu, center, fwhm)
        return out

    def snapshot(self) -> dict[str, float]:
        return {
            "li_fraction_amorphous": self.s,
            "hysteresis_branch": self.h,
            "crystalline_fraction_core": self.crystalline_mean(),
            "crystalline_fraction_core_min": float(self.f.min()),
            "crystalline_fraction_core_max": float(self.f.max()),
            "li15si4_capacity_fraction": self.c_l / self.capacity_C,
            "amorphous_capacity_fraction": self.c_a / self.capacity_C,
            "plated_li_C": self.q_plated,
            "sei_C": self.q_sei,
            "side_reaction_C": self.q_side,
            "dead_li_C": self.q_dead,
            "full_cycles": self.full_cycles(),
            "ocv_vs_li_V": self.ocv(),
        }
