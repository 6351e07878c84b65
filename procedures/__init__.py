"""Measurement steps (pymeasure ``Procedure`` subclasses) written against the roles in :mod:`drivers.roles`."""
