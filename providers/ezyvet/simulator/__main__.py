"""``python -m providers.ezyvet.simulator``: the simulator on its own."""

import sys

from providers.ezyvet.simulator.cli import main

sys.exit(main())
