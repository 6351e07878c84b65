"""A tiny stand-in for ``simulated_instruments.cell.CellModel`` with the same API, for the protocol tests.

Linear physics only: an ohmic wire of fixed conductance per segment, a cell whose voltage rises with the
charge passed, a Raman spectrum with a Si peak at 520 cm-1 near the wire. Enough to check that the
emulators route, clamp, stream and encode correctly without depending on the real model.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Pad:
    kind: str
    along_wire_um: float | None = None


class FakeCell:
    def __init__(self, conductance_S: float = 1e-6, capacity_Ah: float = 3e-16, noise_A: float = 1e-13,
                 seed: int = 0) -> None:
        self.pads = {"S": Pad("contact", 0.0), "D": Pad("contact", 10.0), "C1": Pad("contact", 5.0),
                     "CE": Pad("counter")}
        self.wire_start_um = (100.0, 200.0)
        self.wire_end_um = (110.0, 200.0)
        self.wire_z_um = 0.0
        self.nominal_capacity_Ah = capacity_Ah
        self.conductance_S = conductance_S
        self.noise_A = noise_A
        self.damage: list[tuple[float, str]] = []
        self.drives: list[tuple[float, str, float, tuple[str, ...]]] = []
        self.wavenumbers = np.linspace(100.0, 1800.0, 1024)
        self._rng = np.random.default_rng(seed)
        self._lock = threading.Lock()
        self._t = 0.0
        self._charge_C = 0.0
        self._mode, self._value = "open", 0.0

    def device_info(self) -> dict:
        return {"chip": "FAKE-01", "wire": "fake ohmic wire", "materials": {"wire": "Si"},
                "dimensions": {"length_um": 10}, "voltage_window_V": [2.4, 4.05]}

    def advance(self, t: float) -> None:
        with self._lock:
            if t > self._t:
                if self._mode == "current":
                    self._charge_C += self._value * (t - self._t)
                self._t = t

    def set_drive(self, t: float, mode: str, value: float = 0.0, we_pads: tuple[str, ...] = ("S",)) -> None:
        self.advance(t)
        with self._lock:
            self._mode, self._value = mode, value
            self.drives.append((t, mode, value, tuple(we_pads)))

    def cell_voltage(self, t: float) -> float:
        self.advance(t)
        soc = self._charge_C / (self.nominal_capacity_Ah * 3600.0)
        return 3.0 + 1.0 * soc + (1e8 * self._value if self._mode == "current" else 0.0)

    def cell_current(self, t: float) -> float:
        self.advance(t)
        return self._value if self._mode == "current" else 0.0

    def wire_conductance(self, t: float, pad_a: str = "S", pad_b: str = "D") -> float:
        length = abs(self.pads[pad_a].along_wire_um - self.pads[pad_b].along_wire_um)
        return self.conductance_S * 10.0 / length

    def wire_current(self, t: float, volts: float, pad_hi: str = "S", pad_lo: str = "D") -> float:
        return volts * self.wire_conductance(t, pad_hi, pad_lo) + float(self._rng.normal(0, self.noise_A))

    def raman_spectrum(self, t, x_um, y_um, z_um, exposure_s, accumulations, laser_mW, rng=None):
        rng = rng or self._rng
        on_wire = 95.0 <= x_um <= 115.0 and abs(y_um - 200.0) < 2.0
        w = self.wavenumbers
        signal = 100.0 + (5000.0 * laser_mW * (2.0 / (1 + ((w - 520.0) / 2.0) ** 2)) if on_wire else 0.0)
        counts = accumulations * exposure_s * signal + rng.normal(0, 5.0, w.size)
        return counts.astype(np.float32)

    def flag_damage(self, t: float, reason: str) -> None:
        self.damage.append((t, reason))
