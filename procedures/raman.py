"""Raman map: one spectrum per stage position (point, line or area), shutter open only while acquiring.

Where the shutter can time an exposure itself (``expose(seconds)`` and ``timed_exposure`` on the driver, e.g.
the SC10's single mode), each spectrum uses it: the controller closes the shutter after the exposure plus a
margin even if every host process is gone. The shutter is read back after the acquisition; if it had already
closed (the margin was too short for the link's latency) the spectrum may be partly dark, so it is taken again
with twice the margin. Each exposure (shutter, acquisition, shutter) is retried as a whole on a fault.

With ``frames: 2`` (or more) every pixel is read out that many times and every frame is stored (same pixel
index): a cosmic ray hits one frame, a Raman band is in all, so the analysis can take spikes out even on the
c-Si peak (``nanocell_daq.analysis.raman_preprocess.combine_frames``). It costs the time of the extra frames.

:class:`RamanReference` measures the station's Si reference (``device.si_reference_um``) and logs the axis
offset against c-Si at 520.7 cm-1; the analysis corrects the maps after it by the same offset.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
from pymeasure.experiment import BooleanParameter, FloatParameter, IntegerParameter, ListParameter

from drivers.roles import Spectrum
from procedures.base import Needs, Problem, Step, refused
from procedures.context import StepFault

_POSITION_TOLERANCE_UM = 0.5
"""A move that ends farther than this from its target stops the map (um)."""

_MOVE_S = 0.2
"""Rough stage move + settle time per pixel (s), for duration estimates."""

MAX_PIXELS = 250_000
"""Most pixels one map may have (500 x 500; at 1 s each that is three days)."""
_MARGIN_S = 1.0
"""Least time a timed exposure keeps the shutter open beyond the acquisition (s)."""
_MARGIN_WALL_S = 0.2
"""Link latency allowed for in the first margin (wall s; times the clock's speed in simulation)."""
_CUT_EXPOSURES = 4
"""Exposures in a row that may find the shutter closed at the end of the acquisition before the step stops."""


class RamanMap(Step):
    """Raman spectra at a point, along a line or on an area grid (stage coordinates in um).

    ``along_wire`` (default) takes the line/area from the station's ``device.wire_position_um``: a line of
    ``nx`` points from the wire's start to its end; an area of ``nx`` x ``ny`` with ``ny`` rows spread over
    ``width_um`` across it. Otherwise ``x0_um, y0_um`` with ``dx_um, dy_um`` (line: ``nx`` points of step
    (dx, dy); area: ``nx`` x ``ny`` grid). A point map measures ``x0_um, y0_um`` (or the wire's middle).
    """

    kind = "raman_map"
    summary_fields = ("mode", "nx", "ny", "exposure_s", "accumulations", "frames", "laser_power_mW")
    DATA_COLUMNS: ClassVar[list[str]] = ["x (um)", "y (um)", "z (um)", "spectrum"]

    mode = ListParameter("Map", choices=["point", "line", "area"], default="line")
    along_wire = BooleanParameter("Along the wire (from the station)", default=True)
    nx = IntegerParameter("Points along x / the wire", minimum=1, maximum=100000, default=20)
    ny = IntegerParameter("Rows (area)", minimum=1, maximum=100000, default=1)
    x0_um = FloatParameter("Start x", units="um", minimum=-1e6, maximum=1e6, default=0.0)
    y0_um = FloatParameter("Start y", units="um", minimum=-1e6, maximum=1e6, default=0.0)
    dx_um = FloatParameter("Step x", units="um", minimum=-1e4, maximum=1e4, default=0.5)
    dy_um = FloatParameter("Step y", units="um", minimum=-1e4, maximum=1e4, default=0.5)
    width_um = FloatParameter("Area width across the wire", units="um", minimum=0, maximum=1e4, default=2.0)
    z_um = FloatParameter(
        "Focus z (NaN = the wire's)", units="um", minimum=-1e6, maximum=1e6, default=math.nan
    )
    exposure_s = FloatParameter("Exposure", units="s", minimum=0.001, maximum=3600, default=1.0)
    accumulations = IntegerParameter("Accumulations", minimum=1, maximum=1000, default=1)
    frames = IntegerParameter("Frames per pixel (2+ to compare for cosmic rays)", minimum=1, maximum=10,
                              default=1)
    laser_power_mW = FloatParameter(
        "Laser power at the sample", units="mW", minimum=0, maximum=1000, default=0.1
    )

    # --- geometry ---
    def _z(self, station: Any) -> float:
        if not math.isnan(self.z_um):
            return self.z_um
        wire = station.wire_position_um or {}
        return float(wire.get("z", 0.0))

    def grid(self, station: Any) -> tuple[float, float, float, float, int, int]:
        """(x0, y0, dx, dy, nx, ny) in um: pixel (i, j) sits at (x0 + i dx, y0 + j dy) on an area grid and at
        (x0 + i dx, y0 + i dy) on a line."""
        wire = station.wire_position_um if self.along_wire else None
        if self.mode == "point":
            if wire:
                (xs, ys), (xe, ye) = wire["start"], wire["end"]
                return (xs + xe) / 2, (ys + ye) / 2, 0.0, 0.0, 1, 1
            return self.x0_um, self.y0_um, 0.0, 0.0, 1, 1
        if wire:
            (xs, ys), (xe, ye) = wire["start"], wire["end"]
            n = self.nx
            dx = (xe - xs) / (n - 1) if n > 1 else 0.0
            dy = (ye - ys) / (n - 1) if n > 1 else 0.0
            if self.mode == "line":
                return xs, ys, dx, dy, n, 1
            rows = self.ny
            dyr = self.width_um / (rows - 1) if rows > 1 else 0.0
            return xs, ys - self.width_um / 2, dx, dyr, n, rows
        if self.mode == "line":
            return self.x0_um, self.y0_um, self.dx_um, self.dy_um, self.nx, 1
        return self.x0_um, self.y0_um, self.dx_um, self.dy_um, self.nx, self.ny

    def positions(self, station: Any) -> list[tuple[float, float, float]]:
        """Stage positions (x, y, z) um in acquisition order (area: serpentine rows)."""
        rows = self.grid(station)[5] if self.mode == "area" else 1
        return [p for j in range(rows) for p in self._row(j, station)]

    def _row(self, j: int, station: Any) -> list[tuple[float, float, float]]:
        """Row ``j`` of the map in acquisition order (a line map is row 0)."""
        x0, y0, dx, dy, nx, _ = self.grid(station)
        z = self._z(station)
        if self.mode != "area":
            return [(x0 + i * dx, y0 + i * dy, z) for i in range(nx)]
        cols = range(nx) if j % 2 == 0 else range(nx - 1, -1, -1)
        return [(x0 + i * dx, y0 + j * dy, z) for i in cols]

    def n_pixels(self, station: Any) -> int:
        _, _, _, _, nx, ny = self.grid(station)
        return nx * ny

    def pixel_of(self, x: float, y: float, station: Any) -> int:
        x0, y0, dx, dy, nx, _ = self.grid(station)
        i = round((x - x0) / dx) if dx else 0
        if self.mode != "area":
            return i if dx else (round((y - y0) / dy) if dy else 0)
        j = round((y - y0) / dy) if dy else 0
        return j * nx + i

    # --- planning ---
    def needs(self, station: Any) -> Needs:
        return Needs(roles={"stage", "spectrometer", "shutter", "laser"}, wirings=[])

    def check(self, station: Any) -> list[Problem]:
        problems = [
            Problem(self.kind, f"the station has no {role!r} role")
            for role in ("stage", "spectrometer", "shutter", "laser")
            if not station.has_role(role)
        ]
        if self.along_wire and self.mode != "point" and not station.wire_position_um:
            problems.append(
                Problem("along_wire", f"the station's device has no wire_position_um ({station.path})")
            )
            return problems
        problems += refused("laser_power_mW", station.limits.check_laser, self.laser_power_mW)
        if self.n_pixels(station) > MAX_PIXELS:
            return [*problems, Problem("ny" if self.mode == "area" else "nx",
                                       f"{self.n_pixels(station)} pixels in one map, at most {MAX_PIXELS}")]
        x0, y0, dx, dy, nx, ny = self.grid(station)
        z = self._z(station)
        for j in range(ny if self.mode == "area" else 1):
            # a row is a straight segment: inside the (rectangular) travel when both its ends are, so only
            # a row with an end outside is walked, to name its first pixel outside (as acquired)
            far_y = y0 + j * dy + (0.0 if self.mode == "area" else (nx - 1) * dy)
            ends = [(x0, y0 + j * dy), (x0 + (nx - 1) * dx, far_y)]
            if all(not refused(self.kind, station.limits.check_stage, x, y, z) for x, y in ends):
                continue
            for x, y, zz in self._row(j, station):
                outside = refused(self.kind, station.limits.check_stage, x, y, zz)
                if outside:  # one is enough: the next pixels are out for the same reason
                    problem = outside[0]
                    return [*problems, Problem(problem.field, f"map position: {problem.message}")]
        return problems

    def estimate_s(self, station: Any) -> float:
        return self.n_pixels(station) * (self.frames * self.exposure_s * self.accumulations + _MOVE_S)

    # --- run ---
    margin_s: float = _MARGIN_S
    """How long a timed exposure stays open beyond the acquisition (s); set at startup, doubled after an
    exposure that closed too early."""

    def startup(self) -> None:
        ctx = self.ctx
        total = self.exposure_s * self.accumulations
        self.margin_s = max(_MARGIN_S, 0.1 * total, _MARGIN_WALL_S * float(getattr(ctx.clock, "speed", 1.0)))
        ctx.query(ctx.role("shutter").close)
        spec = ctx.role("spectrometer")
        ctx.query(setattr, spec, "exposure_s", self.exposure_s)
        ctx.query(setattr, spec, "accumulations", self.accumulations)
        ctx.query(setattr, ctx.role("laser"), "power_mW", self.laser_power_mW)

    def execute(self) -> None:
        ctx = self.ctx
        stage, spec, shutter = ctx.role("stage"), ctx.role("spectrometer"), ctx.role("shutter")
        x0, y0, dx, dy, nx, ny = self.grid(ctx.station)
        positions = self.positions(ctx.station)
        grid_id = ctx.recorder.map_grid(x0, y0, dx, dy, nx, ny, positions[0][2])
        self.xy = np.array([(x, y) for x, y, _ in positions])
        for k, (x, y, z) in enumerate(positions):
            if ctx.checkpoint():  # paused: the engine turned the laser off
                ctx.query(setattr, ctx.role("laser"), "power_mW", self.laser_power_mW)
            ctx.query(stage.move_to, x, y, z)
            ctx.elapse(_MOVE_S)  # stage move and settling (counted by the wall clock at speed 1 instead)
            px, py, _ = ctx.query(lambda: stage.position)
            if math.hypot(px - x, py - y) > _POSITION_TOLERANCE_UM:
                raise StepFault(
                    f"stage stopped at ({px:.2f}, {py:.2f}) um instead of ({x:.2f}, {y:.2f}) um "
                    f"(limit switch or obstruction?)"
                )
            for _ in range(int(self.frames)):  # every frame stored: the analysis compares them
                spectrum = ctx.query(self.expose, shutter, spec)
                ctx.elapse(self.exposure_s * self.accumulations)
                ctx.recorder.spectrum(x, y, z, spectrum, grid_id, self.pixel_of(x, y, ctx.station))
            ctx.progress((k + 1) / len(positions))

    def timed(self, shutter: Any) -> bool:
        """True when this exposure uses the shutter's own timer (the driver offers it, the station did not
        turn it off, and the exposure plus margin fits the controller's longest open time)."""
        total = self.exposure_s * self.accumulations
        return (bool(getattr(shutter, "timed_exposure", False)) and callable(getattr(shutter, "expose", None))
                and total + self.margin_s <= float(getattr(shutter, "MAX_EXPOSURE_S", 0.0)))

    def expose(self, shutter: Any, spec: Any) -> Spectrum:
        """One spectrum with the shutter open only for it; the shutter is closed (verified) on return.

        The shutter is read back after the acquisition: still open means the sample was lit throughout.
        Closed means a pause closed it (the engine turns every output off: wait, re-arm the laser, take the
        spectrum again) or, in a timed exposure, that its margin was too short for the link (take it again
        with twice the margin).
        """
        ctx = self.ctx
        total = self.exposure_s * self.accumulations
        for _ in range(_CUT_EXPOSURES):
            timed = self.timed(shutter)
            if timed:
                shutter.expose(total + self.margin_s)
            else:
                shutter.open()
            try:
                spectrum = spec.acquire()
                lit_throughout = shutter.is_open  # opened before the acquisition, still open after it
            finally:
                shutter.close()
            if lit_throughout:
                return spectrum
            if ctx.checkpoint():  # paused meanwhile: the engine closed the shutter and turned the laser off
                ctx.query(setattr, ctx.role("laser"), "power_mW", self.laser_power_mW)
                why = "a pause closed the shutter during the acquisition"
            elif timed:
                self.margin_s *= 2
                why = (f"the shutter closed itself before the {total:g} s acquisition was read back; "
                       f"margin now {self.margin_s:g} s")
            else:
                why = "the shutter was closed when the acquisition ended"
            ctx.recorder.event("warning", f"{why}; taking the spectrum again")
        raise StepFault(
            f"the shutter was closed at the end of the acquisition {_CUT_EXPOSURES} times in a row "
            f"(timed-exposure margin {self.margin_s:g} s; the shutter's station option timed_exposure: false "
            f"turns the controller's timer off)"
        )

    def shutdown(self) -> None:
        ctx = getattr(self, "ctx", None)
        if ctx is not None:
            ctx.role("shutter").close()
            ctx.role("laser").power_mW = 0.0


SI_REFERENCE_CM1 = 520.7
"""Raman shift of bulk c-Si at room temperature (cm-1), the usual calibration value: the domain notes
(section 1.6, "Calibration: Si wafer at 520.5-520.7 cm-1 before each map session") give 520.5-520.7."""


class RamanReference(RamanMap):
    """Raman axis calibration: spectra of the station's Si reference (``device.si_reference_um``).

    ``frames`` spectra at the reference (default 2: a cosmic ray on the peak is seen by comparison), stored
    like a one-pixel map; the c-Si peak is fitted and the offset 520.7 cm-1 minus the measured position is
    logged. The analysis adds that offset to the band positions of the maps that follow (until the next
    reference). The laser power and exposure are this step's own (a wafer needs far less than a wire).
    """

    kind = "raman_reference"
    summary_fields = ("exposure_s", "accumulations", "frames", "laser_power_mW")
    mode = ListParameter("Map", choices=["point"], default="point")
    along_wire = BooleanParameter("Along the wire (from the station)", default=False)
    frames = IntegerParameter("Spectra of the reference", minimum=1, maximum=10, default=2)

    def grid(self, station: Any) -> tuple[float, float, float, float, int, int]:
        ref = station.si_reference_um or {"x": math.nan, "y": math.nan}
        return float(ref["x"]), float(ref["y"]), 0.0, 0.0, 1, 1

    def _z(self, station: Any) -> float:
        if not math.isnan(self.z_um):
            return self.z_um
        return float((station.si_reference_um or {}).get("z", 0.0))

    def check(self, station: Any) -> list[Problem]:
        if not station.si_reference_um:
            return [Problem(self.kind, f"the station's device has no si_reference_um ({station.path}): give "
                            "the stage position of a Si reference piece as device.si_reference_um {x, y, z}, "
                            "or drop this step from a copy of the protocol (nanocell protocols copy)")]
        return super().check(station)

    def execute(self) -> None:
        super().execute()
        self.offset_cm1 = self.axis_offset()

    def axis_offset(self) -> float:
        """Fit the reference spectra just taken; log and return 520.7 minus the c-Si position (cm-1)."""
        from nanocell_daq.analysis.raman import reference_offset  # the analysis is not needed to import steps

        ctx = self.ctx
        taken = self.taken[-int(self.frames):]
        offset, position, err = reference_offset(taken[0].wavenumbers, [s.counts for s in taken],
                                                 SI_REFERENCE_CM1)
        if math.isnan(offset):
            ctx.recorder.event("warning", "Si reference: no c-Si peak; the Raman axis is not calibrated")
        else:
            ctx.recorder.event(
                "info",
                f"Si reference: c-Si at {position:.2f} +- {err:.2f} cm-1, axis offset {offset:+.2f} cm-1 "
                f"(against {SI_REFERENCE_CM1} cm-1)",
            )
        return offset

    taken: list[Spectrum]

    def expose(self, shutter: Any, spec: Any) -> Spectrum:
        spectrum = super().expose(shutter, spec)
        self.__dict__.setdefault("taken", []).append(spectrum)
        return spectrum
