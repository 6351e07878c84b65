"""The station: the YAML file that describes a probe station, and the connected instruments built from it.

``load_station(path)`` validates a file (errors name file, line and field); ``build_station(config)``
connects the instruments, checks identities and roles and returns a :class:`Station`.
"""

from nanocell_daq.station.config import StationConfig
from nanocell_daq.station.limits import LimitError, Limits
from nanocell_daq.station.loader import StationFileError, load_station, parse_station, select_device
from nanocell_daq.station.station import Station, StationError, build_station

__all__ = [
    "LimitError",
    "Limits",
    "Station",
    "StationConfig",
    "StationError",
    "StationFileError",
    "build_station",
    "load_station",
    "parse_station",
    "select_device",
]
