"""nanocell_daq.engine."""
