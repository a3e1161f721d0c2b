"""``python -m daemon`` is the same as the ``pims-sync`` command."""

from daemon.cli import entry

entry()
