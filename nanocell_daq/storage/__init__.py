"""nanocell_daq.storage."""
