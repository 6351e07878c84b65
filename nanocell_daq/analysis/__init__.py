"""nanocell_daq.analysis."""
