"""A physical model of the on-chip nanowire cell behind protocol-faithful instrument emulators.

The emulators speak the real instruments' command sets over loopback TCP sockets, so the real drivers
(ours and PyMeasure's) run unchanged against them through pyvisa-py.
"""
