"""nanocell-daq: in situ cycling, source/drain I-V and Raman mapping of on-chip single-nanowire batteries.

Sub-packages: ``storage`` (the run store), ``station`` (station file and instrument roles wiring),
``engine`` (protocol runs), ``analysis`` (derived numbers, exports, report), ``cli`` (the ``nanocell``
command) and ``gui`` (the only Qt code).
"""

__version__ = "0.1.0"
