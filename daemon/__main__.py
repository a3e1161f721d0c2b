"""``python -m daemon`` is the same as the ``pims-sync`` command."""

import sys

from daemon.cli import main

sys.exit(main())
