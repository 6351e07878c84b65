"""Conductance per wire segment on multi-contact wires, and the contact-vs-wire split (transfer-length style).

A pair "A-B" of contact pads measures the segment between them; its length is |x_A − x_B| from the pads'
``along_wire_um`` (station file / device record stored with the run). With the zero-bias resistance of each
segment R = 1/G0 and segments of different lengths, a weighted line R(L) = 2·R_c + r·L gives the contact
resistance R_c (ohm, per contact, assumed equal for all pads) and the wire's resistance per length r
(ohm/um). Weights are the propagated errors of R; when the line does not describe the segments within their
errors (χ²_red > 1: contacts differ between pads, or the wire is not uniform) the covariance is scaled by
χ²_red. The split is "not determined" (with the reason) when fewer than two lengths have a significant G0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

NAN = float("nan")
INCONSISTENT_CHI2 = 10.0
"""χ²_red above which the text says the segments do not follow R = 2 R_c + r L (contacts differ by pad)."""


def pad_positions(*sources: Mapping[str, Any] | None) -> dict[str, float]:
    """Pad name -> position along the wire (um) from pad tables ({name: {"along_wire_um": x, ...}}); the
    first source that gives a pad wins."""
    out: dict[str, float] = {}
    for pads in sources:
        if not isinstance(pads, Mapping):
            continue
        for name, pad in pads.items():
            pos = pad.get("along_wire_um") if isinstance(pad, Mapping) else None
            if isinstance(pos, (int, float)) and not isinstance(pos, bool) and str(name) not in out:
                out[str(name)] = float(pos)
    return out


def segment_length(pair: str, positions: Mapping[str, float]) -> float:
    """|x_A − x_B| (um) of pair "A-B"; NaN if a pad's position is unknown."""
    parts = str(pair).split("-")
    if len(parts) != 2 or parts[0] not in positions or parts[1] not in positions:
        return NAN
    return abs(positions[parts[0]] - positions[parts[1]])


def segment_table(iv_rows: pd.DataFrame, positions: Mapping[str, float]) -> pd.DataFrame:
    """One row per pair of one I-V step: pair, length_um, conductance_S, conductance_err_S, significant,
    upper_limit_S, resistance_ohm and resistance_err_ohm (R = 1/G0, σ_R = σ_G/G0²; NaN when not significant).
    """
    columns = ["pair", "length_um", "conductance_S", "conductance_err_S", "significant", "upper_limit_S",
               "resistance_ohm", "resistance_err_ohm"]
    rows = []
    for _, r in iv_rows.iterrows():
        g, err = float(r["conductance_S"]), float(r["conductance_err_S"])
        sig = bool(r.get("g0_significant", np.isfinite(err) and g > 3 * err))
        rows.append({
            "pair": r.get("pair"),
            "length_um": segment_length(r.get("pair"), positions),
            "conductance_S": g,
            "conductance_err_S": err,
            "significant": sig,
            "upper_limit_S": float(r.get("g0_upper_limit_S", NAN)),
            "resistance_ohm": 1.0 / g if sig else NAN,
            "resistance_err_ohm": err / g**2 if sig else NAN,
        })
    return pd.DataFrame(rows, columns=columns)


@dataclass(frozen=True)
class ContactSplit:
    """R(L) = 2·R_c + r·L over segments: R_c (ohm per contact), r (ohm/um), their errors, the fit quality.

    ``determined``: False with ``reason`` when the segments cannot separate contact and wire; then the
    numbers are NaN. ``contact_fraction``: 2·R_c / R of the longest segment (the share of the contacts)."""

    determined: bool
    reason: str
    contact_ohm: float = NAN
    contact_err_ohm: float = NAN
    wire_ohm_per_um: float = NAN
    wire_err_ohm_per_um: float = NAN
    chi2_red: float = NAN
    n_segments: int = 0
    contact_fraction: float = NAN

    def as_dict(self) -> dict:
        return asdict(self)

    def text(self) -> str:
        if not self.determined:
            return f"contact/wire split not determined: {self.reason}"
        text = (f"R_c = {self.contact_ohm:.3g} ± {self.contact_err_ohm:.2g} ohm per contact, "
                f"r = {self.wire_ohm_per_um:.3g} ± {self.wire_err_ohm_per_um:.2g} ohm/um "
                f"(contacts {100 * self.contact_fraction:.0f} % of the longest segment)")
        if np.isfinite(self.chi2_red) and self.chi2_red > INCONSISTENT_CHI2:
            text += (f"; the segments disagree with equal contacts (χ²_red = {self.chi2_red:.3g}): errors "
                     f"scaled by it")
        return text


def contact_split(segments: pd.DataFrame) -> ContactSplit:
    """Weighted line R = 2·R_c + r·L through the segments with a significant G0 and a known length."""
    if segments.empty:
        return ContactSplit(False, "no segments")
    ok = segments[np.isfinite(segments["length_um"].to_numpy(float))]
    if ok.empty:
        return ContactSplit(False, "the pads' positions along the wire are unknown")
    sig = ok[ok["significant"].astype(bool) & np.isfinite(ok["resistance_err_ohm"].to_numpy(float))]
    lengths = sig["length_um"].to_numpy(float)
    if np.unique(np.round(lengths, 6)).size < 2:
        why = ("fewer than two segment lengths with a significant G0" if len(sig) < len(ok)
               else "all segments have the same length")
        return ContactSplit(False, why, n_segments=len(sig))
    r = sig["resistance_ohm"].to_numpy(float)
    w = 1.0 / sig["resistance_err_ohm"].to_numpy(float)
    a = np.column_stack([2.0 * np.ones_like(lengths), lengths])
    aw = a * w[:, None]
    coef, *_ = np.linalg.lstsq(aw, r * w, rcond=None)
    cov = np.linalg.inv(aw.T @ aw)
    dof = len(r) - 2
    chi2_red = float(np.sum((aw @ coef - r * w) ** 2) / dof) if dof > 0 else NAN
    if dof > 0 and chi2_red > 1.0:
        cov = cov * chi2_red
    longest = float(r[np.argmax(lengths)])
    return ContactSplit(True, "", float(coef[0]), float(np.sqrt(cov[0, 0])), float(coef[1]),
                        float(np.sqrt(cov[1, 1])), chi2_red, len(r), 2.0 * float(coef[0]) / longest)
