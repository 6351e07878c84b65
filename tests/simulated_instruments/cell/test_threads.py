"""Several emulator threads calling the model at once: no exceptions, consistent results."""

from __future__ import annotations

import math
import threading

import numpy as np

from simulated_instruments.cell import CellModel


def test_concurrent_callers() -> None:
    m = CellModel("si", seed=0)
    errors: list[BaseException] = []
    clock = [0.0]
    clock_lock = threading.Lock()

    def now() -> float:
        with clock_lock:
            clock[0] += 0.05
            return clock[0]

    def run(fn) -> None:
        try:
            for _ in range(300):
                fn()
        except BaseException as exc:  # noqa: BLE001 - the test reports any failure from a thread
            errors.append(exc)

    def drive() -> None:
        t = now()
        m.set_drive(t, "current" if int(t) % 2 == 0 else "open", 10e-12)

    jobs = [
        lambda: m.cell_voltage(now()),
        lambda: m.cell_current(now()),
        lambda: m.wire_current(now(), 0.3, "S", "C1"),
        lambda: m.raman_spectrum(now(), 105.0, 200.0, 0.0, 1.0, 1, 0.1),
        drive,
        lambda: m.flag_damage(now(), "pad S driven by two sources"),
    ]
    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
    assert not errors, errors[:3]
    assert len(m.damage) == 300 and m.damage[0].reason == "pad S driven by two sources"
    assert math.isfinite(m.cell_voltage(clock[0] + 1.0))
    assert np.isfinite(m.wire_conductance(clock[0] + 1.0))
    assert "crystalline_fraction_core" in m.snapshot()
