"""Measurement steps (pymeasure ``Procedure`` subclasses) written against the roles in :mod:`drivers.roles`.

``STEPS`` maps the kind written in protocol files to the step class.
"""

from __future__ import annotations

from procedures.base import Needs, Problem, Step
from procedures.context import ComplianceTrip, InstrumentFault, StepAborted, StepContext, StepFault
from procedures.cv import CyclicVoltammetry
from procedures.galvanostatic import GalvanostaticStep
from procedures.hold import PotentiostaticHold
from procedures.iv import IVSweep
from procedures.raman import RamanMap, RamanReference
from procedures.rest import OCVRest

STEPS: dict[str, type[Step]] = {
    cls.kind: cls
    for cls in (GalvanostaticStep, OCVRest, PotentiostaticHold, CyclicVoltammetry, IVSweep, RamanMap,
                RamanReference)
}

__all__ = [
    "STEPS",
    "ComplianceTrip",
    "CyclicVoltammetry",
    "GalvanostaticStep",
    "IVSweep",
    "InstrumentFault",
    "Needs",
    "OCVRest",
    "PotentiostaticHold",
    "Problem",
    "RamanMap",
    "RamanReference",
    "Step",
    "StepAborted",
    "StepContext",
    "StepFault",
]
