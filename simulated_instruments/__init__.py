"""A physical model of the on-chip nanowire cell behind protocol-faithful instrument emulators.

The emulators speak the real instruments' command sets over loopback TCP sockets, so the real drivers
(ours and PyMeasure's) run unchanged against them through pyvisa-py.
"""

from simulated_instruments.bench import SimulatedBench
from simulated_instruments.clock import SimClock
from simulated_instruments.emulator import LogEntry
from simulated_instruments.faults import FAULT_KINDS
from simulated_instruments.wiring import DamageEvent

__all__ = ["FAULT_KINDS", "DamageEvent", "LogEntry", "SimClock", "SimulatedBench"]
