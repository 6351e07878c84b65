"""Keithley 707B switch matrix over TSP (``channel.close/open/exclusiveclose/getclose``, ``errorqueue``)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from pymeasure.instruments import Instrument

from drivers._common import TSPMixin, with_defaults
from drivers.errors import InstrumentError

CHANNEL = re.compile(r"^[1-6][A-H](0[1-9]|1[0-2])$")
"""A 707B crosspoint: slot 1-6, row A-H, column 01-12 (e.g. ``1A01``)."""


def check_channels(channels: Iterable[str]) -> list[str]:
    """The channels as a sorted list; ValueError naming the first one that is not a crosspoint."""
    out = []
    for ch in channels:
        if not isinstance(ch, str) or not CHANNEL.match(ch):
            raise ValueError(f"{ch!r} is not a 707B channel (slot 1-6, row A-H, column 01-12, e.g. '1A01')")
        out.append(ch)
    return sorted(out)


class Keithley707B(TSPMixin, Instrument):
    """Keithley 707B/708B semiconductor switching matrix (TSP).

    :param adapter: VISA resource string or an adapter.
    :param kwargs: forwarded to the VISA adapter (defaults: ``\\n`` terminations, 5 s timeout).
    """

    IDENTITY = re.compile(r"KEITHLEY INSTRUMENTS.*MODEL 70[78]B", re.IGNORECASE)

    def __init__(self, adapter, name: str = "Keithley 707B switch matrix", **kwargs):
        kwargs = with_defaults(kwargs, read_termination="\n", write_termination="\n", timeout=5000)
        super().__init__(adapter, name, includeSCPI=False, **kwargs)

    def close(self, channels: Iterable[str]) -> None:
        """Close the crosspoints (others stay as they are)."""
        self.write(f'channel.close("{",".join(check_channels(channels))}")')

    def open(self, channels: Iterable[str]) -> None:
        """Open the crosspoints."""
        self.write(f'channel.open("{",".join(check_channels(channels))}")')

    def exclusive_close(self, channels: Iterable[str]) -> None:
        """Close exactly these crosspoints and open every other one."""
        self.write(f'channel.exclusiveclose("{",".join(check_channels(channels))}")')

    def open_all(self) -> None:
        self.write('channel.open("allslots")')

    def closed(self) -> frozenset[str]:
        """The closed crosspoints as the matrix reports them (``channel.getclose``; ``nil`` = none)."""
        reply = self.ask('print(channel.getclose("allslots"))').strip()
        if reply in ("nil", ""):
            return frozenset()
        return frozenset(part.strip() for part in re.split(r"[;,]", reply) if part.strip())

    def snapshot_settings(self) -> dict[str, Any]:
        """The closed crosspoints, sorted (a query only)."""
        return {"closed_channels": sorted(self.closed())}

    def shutdown(self) -> None:
        """Open every crosspoint and read back that none is closed."""
        self.open_all()
        still = self.closed()
        if still:
            raise InstrumentError(f"{self.name}: {', '.join(sorted(still))} still closed after opening all")
        self.isShutdown = True
