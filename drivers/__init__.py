"""Instrument drivers (pymeasure ``Instrument`` subclasses) and the role interfaces they fill.

Procedures depend only on :mod:`drivers.roles`; concrete drivers are chosen by the station file.
"""
