"""The numbers a researcher looks at after a run: capacity per half-cycle, conductance, nonlinearity, Xc.

Uses :func:`nanocell_daq.analysis.analyze_run` (the analysis area's full treatment).
"""

from __future__ import annotations

import math
from typing import Any


def _clean(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if hasattr(x, "item"):
        return _clean(x.item())
    return x


def run_summary(store: Any, run_id: int) -> dict[str, Any]:
    """``{run_id, status, reason, checkpoints: [...], half_cycles: [...]}`` (JSON-able)."""
    from nanocell_daq.analysis.run_analysis import analyze_run

    info = store.run(run_id)
    result = analyze_run(store, run_id)
    checkpoints = [
        {
            "label": c["label"],
            "conductance_S": _clean(c.get("conductance_S")),
            "conductance_err_S": _clean(c.get("conductance_err_S")),
            "conductance_significant": bool(c.get("conductance_significant", True)),
            "conductance_upper_limit_S": _clean(c.get("conductance_upper_limit_S")),
            "nonlinearity": _clean(c.get("nonlinearity")),
            "xc_mean": _clean(c.get("xc_mean")),
            "xc_pooled": _clean(c.get("xc_pooled")),  # of the summed areas: defined when the mean is not
            "xc_upper": _clean(c.get("xc_upper")),  # 95 % upper limit where no c-Si peak is significant
            "xc_text": c.get("xc_text", ""),
        }
        for c in result.checkpoints
    ]
    half_cycles = [
        {"cycle": _clean(h["cycle"]), "direction": h["direction"], "capacity_Ah": _clean(h["capacity_Ah"])}
        for h in result.half_cycles
    ]
    return {
        "run_id": int(run_id),
        "status": info.status,
        "reason": info.reason,
        "checkpoints": checkpoints,
        "half_cycles": half_cycles,
    }


def _upper(limit: float | None) -> str:
    return f"<{limit:.3f}" if limit is not None else "  n/a"


def summary_lines(summary: dict[str, Any]) -> list[str]:
    """A terminal rendering of :func:`run_summary`."""
    lines = [
        f"run {summary['run_id']}: {summary['status']}"
        + (f" ({summary['reason']})" if summary.get("reason") else "")
    ]
    if summary["half_cycles"]:
        lines.append("capacity per half-cycle:")
        for h in summary["half_cycles"]:
            cap = h["capacity_Ah"]
            lines.append(
                f"  cycle {h['cycle']} {h['direction']:<9} "
                + (f"{cap * 1e12:8.4f} pAh" if cap is not None else "     n/a")
            )
    if summary["checkpoints"]:
        lines.append("checkpoints (zero-bias conductance, nonlinearity index, mean crystalline fraction):")
        for c in summary["checkpoints"]:
            g, nl = c["conductance_S"], c["nonlinearity"]
            xc = c["xc_mean"] if c["xc_mean"] is not None else c.get("xc_pooled")
            err, ul = c.get("conductance_err_S"), c.get("conductance_upper_limit_S")
            if g is not None and not c.get("conductance_significant", True) and ul is not None:
                g0 = f"< {ul:.3e} S (95 % upper limit)"
            elif g is not None:
                g0 = f"{g:9.3e} S" + (f" ± {err:.2g}" if err is not None else "")
            else:
                g0 = "      n/a  "
            lines.append(
                f"  {c['label']:<22} G0 "
                + f"{g0:<24}"
                + "  NL "
                + (f"{nl:6.2f}" if nl is not None else "   n/a")
                + "  Xc "
                + (f"{xc:5.2f}" if xc is not None else _upper(c.get("xc_upper")))
            )
    return lines
