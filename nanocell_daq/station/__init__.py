"""nanocell_daq.station."""
