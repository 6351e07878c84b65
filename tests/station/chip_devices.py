"""A two-device chip for tests: the simulated bench's station with its wire as device ``nw1`` and a second
device ``nw2`` on matrix columns 05-06 (no wire is bonded there on the simulated bench: an open circuit)."""

from __future__ import annotations

from typing import Any

import yaml


def two_device_station(single: dict[str, Any]) -> dict[str, Any]:
    """``single`` (a one-device station dict, e.g. ``SimulatedBench.station_dict()``) as a chip of two
    devices: the counter film shared, ``nw1`` = the bench's wire, ``nw2`` on columns 05 (S) and 06 (D)."""
    data = dict(single)
    pads = data.pop("pads")
    wirings = data.pop("wirings")
    limits = data.pop("limits")
    device = data.pop("device")
    counter = next(name for name, pad in pads.items() if pad["kind"] == "counter")
    own = {name: pad for name, pad in pads.items() if name != counter}
    nw1 = {k: v for k, v in device.items() if k != "chip"}
    nw1.update(pads=own, wirings=wirings, limits=limits)
    nw2 = {
        "wire": "second wire (not bonded on the simulated bench)",
        "wire_position_um": device.get("wire_position_um"),
        "pads": {"S": {"kind": "contact", "along_wire_um": 0.0},
                 "D": {"kind": "contact", "along_wire_um": 10.0}},
        "wirings": {
            "cycling": {"instrument": "pstat", "channels": ["1A05", wirings["cycling"]["channels"][1]],
                        "pads": ["S", counter]},
            "conductance:S-D": {"instrument": "smu", "channels": ["1C05", "1D06"], "pads": ["S", "D"]},
        },
        "limits": {**limits, "wirings": {"conductance:S-D": {"max_current_A": 2.0e-7, "max_voltage_V": 0.5}}},
    }
    if nw2["wire_position_um"] is None:
        del nw2["wire_position_um"]
    data.update(device={"chip": device["chip"]}, pads={counter: pads[counter]},
                devices={"nw1": nw1, "nw2": nw2})
    return data


def dump(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, sort_keys=False)
