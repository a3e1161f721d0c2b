"""``python -m providers.idexx_neo.simulator``: the simulator on its own."""

import sys

from providers.idexx_neo.simulator.cli import main

sys.exit(main())
