"""``python -m nanocell_daq`` runs the ``nanocell`` command."""

import sys

from nanocell_daq.cli import main

sys.exit(main())
