"""The contract's fixed vocabularies that the command line needs before any database code.

Kept apart from :mod:`daemon.store.models` (which re-exports them) so that argument parsing and
value checks do not import SQLAlchemy: ``pims-sync --help`` must stay instant.
"""

from __future__ import annotations

SYNC_TYPES = ("inbound", "cases", "reconciliation")
PERMISSIONS = ("sync:inbound", "sync:cases", "sync:reconciliation", "sync:read")
