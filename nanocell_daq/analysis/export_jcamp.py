"""JCAMP-DX export: one ``.jdx`` file per Raman spectrum (JCAMP-DX 5.01 labels, IUPAC).

The Raman-shift axis of a calibrated CCD is not evenly spaced, so the points are written as
``##XYPOINTS=(XY..XY)`` (one x, y pair a line, x in 1/CM, y in counts) rather than the equidistant
``(X++(Y..Y))`` form. The stage position, exposure, engine-clock time and step of each spectrum are written as
user-defined labels (``##$X_UM=`` ...).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np


def _header_text(value: Any) -> str:
    """One line, no label markers (a stray "##" would start a new label)."""
    return " ".join(str(value).replace("##", "#").split())


def _longdate(iso: Any) -> str:
    """ISO 8601 (UTC) -> the JCAMP-DX LONGDATE form ``YYYY/MM/DD HH:MM:SS`` ('' if none)."""
    if not iso:
        return ""
    try:
        return dt.datetime.fromisoformat(str(iso)).astimezone(dt.UTC).strftime("%Y/%m/%d %H:%M:%S %z")
    except ValueError:
        return ""


def jcamp_text(
    axis: np.ndarray,
    counts: np.ndarray,
    title: str,
    fields: dict[str, Any],
    *,
    origin: str,
    owner: str,
    longdate: str = "",
) -> str:
    """The JCAMP-DX text of one spectrum (``fields``: extra ``##$NAME=value`` labels)."""
    x = np.asarray(axis, dtype=np.float64)
    y = np.asarray(counts, dtype=np.float64)
    lines = [
        f"##TITLE={_header_text(title)}",
        "##JCAMP-DX=5.01",
        "##DATA TYPE=RAMAN SPECTRUM",
        f"##ORIGIN={_header_text(origin)}",
        f"##OWNER={_header_text(owner)}",
    ]
    if longdate:
        lines.append(f"##LONGDATE={longdate}")
    lines += [f"##${_header_text(k).upper()}={_header_text(v)}" for k, v in fields.items()]
    lines += [
        "##XUNITS=1/CM",
        "##YUNITS=COUNTS",
        "##XFACTOR=1",
        "##YFACTOR=1",
        f"##FIRSTX={x[0]:.10g}" if x.size else "##FIRSTX=0",
        f"##LASTX={x[-1]:.10g}" if x.size else "##LASTX=0",
        f"##NPOINTS={x.size}",
        "##XYPOINTS=(XY..XY)",
    ]
    lines += [f"{a:.10g}, {b:.10g}" for a, b in zip(x, y, strict=True)]
    lines.append("##END=")
    return "\n".join(lines) + "\n"


def provenance_fields(prov: dict[str, Any]) -> dict[str, str]:
    """The run's provenance as one-line ``##$`` labels: software, git commit, host, operator, station and
    protocol files (path and SHA-256 of the text as read, the ``--set`` overrides) and the analysis."""
    if not prov:
        return {}
    from nanocell_daq.provenance import UNKNOWN

    def sha(text: str) -> str:
        return UNKNOWN if text == UNKNOWN else hashlib.sha256(text.encode("utf-8")).hexdigest()

    sw, station, protocol = prov["software"], prov["station"], prov["protocol"]
    analysis = prov.get("analysis") or {}
    return {
        "SOFTWARE": f"nanocell-daq {sw['version']}",
        "GIT COMMIT": f"{sw['git_commit']}" + (" (local changes)" if sw["git_dirty"] is True else ""),
        "PYTHON": sw["python"],
        "HOST": prov["host"],
        "OPERATOR": prov["operator"],
        "STATION FILE": station["path"],
        "STATION SHA256": sha(station["text"]),
        "DEVICE": station["device"],
        "PROTOCOL": protocol["name"],
        "PROTOCOL FILE": protocol["path"],
        "PROTOCOL SHA256": sha(protocol["text"]),
        "SET": " ".join(f"{k}={v}" for k, v in protocol["overrides"].items()) or "none",
        "SESSIONS": str(len(prov["sessions"])),
        "ANALYSIS": json.dumps(analysis.get("parameters", analysis), sort_keys=True),
    }


def write_jcamp(tables: Any, folder: Path, owner: str = "") -> list[Path]:
    """One file per spectrum of ``tables`` (export.RunTables): ``run<R>_step<S>_spectrum<ID>.jdx``, with
    the run's provenance (``tables.provenance``) as ``##$`` labels."""
    folder.mkdir(parents=True, exist_ok=True)
    run = tables.tables["run"].iloc[0].to_dict()
    steps = tables.tables["steps"].set_index("step_id") if len(tables.tables["steps"]) else None
    prov = getattr(tables, "provenance", None) or {}
    origin = f"nanocell-daq run {tables.run_id} ({run.get('device') or 'unknown chip'})"
    if prov:
        origin += f", nanocell-daq {prov['software']['version']} on host {prov['host']}"
    owner = owner or str(run.get("operator") or prov.get("operator") or "")
    extra = provenance_fields(prov)
    written = []
    for sid, (axis, counts, meta) in tables.spectra.items():
        label = "" if steps is None or sid not in steps.index else str(steps.at[sid, "label"])
        for k, row in enumerate(meta.itertuples(index=False)):
            path = folder / f"run{tables.run_id}_step{sid}_spectrum{int(row.spectrum_id)}.jdx"
            fields = {
                "RUN": tables.run_id,
                "STEP": sid,
                "STEP LABEL": label,
                "SPECTRUM ID": int(row.spectrum_id),
                "PIXEL": int(row.pixel),
                "X UM": f"{row.x_um:.10g}",
                "Y UM": f"{row.y_um:.10g}",
                "Z UM": f"{row.z_um:.10g}",
                "EXPOSURE S": f"{row.exposure_s:.10g}",
                "ENGINE TIME S": f"{row.t_s:.10g} (engine clock, s since run start)",
                **extra,
            }
            title = f"run {tables.run_id} step {sid} {label} spectrum {int(row.spectrum_id)}".strip()
            text = jcamp_text(axis, counts[k], title, fields, origin=origin,
                              owner=owner,
                              longdate=_longdate(run.get("started")))
            path.write_text(text, encoding="utf-8")
            written.append(path)
    return written
