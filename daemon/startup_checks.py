"""Checks that stop `pims-sync run` with one line instead of starting a daemon that says it is
ready while every sync is bound to fail.

Contract §2.3: ``PIMS_ENCRYPTION_KEY`` is required once any credential exists, and a bad value
stops start-up with one line naming the variable and the rule. A key that opens none of the
stored credentials is such a bad value (a typo, or a key rotated without
``PIMS_ENCRYPTION_KEY_PREVIOUS``); one that opens some but not all is not — those clinics fail
with ``credentials_undecryptable`` and the rest are served — so it is logged, clinic by clinic.
"""

from __future__ import annotations

import logging
import uuid

from daemon.store import Store
from daemon.store.crypto import EncryptionKeyMissing, UndecryptableSecret
from daemon.store.secrets import NoCredentials

log = logging.getLogger("pims_sync.store")


class StartupError(RuntimeError):
    """Start-up cannot go on; the message is the one line the operator sees."""


def check_encryption_key(store: Store) -> None:
    """Open each clinic's stored credentials with the configured keys (nothing is printed but
    clinic ids and counts); raise :class:`StartupError` when the key is missing or opens none."""
    opened = 0
    unopened: list[uuid.UUID] = []
    for clinic in store.clinics.list():
        try:
            store.credentials.get(clinic.id)
        except NoCredentials:
            continue
        except (EncryptionKeyMissing, UndecryptableSecret):
            unopened.append(clinic.id)
        else:
            opened += 1
    stored = opened + len(unopened)
    if stored == 0:
        return
    if store.box.current_key is None:
        raise StartupError(
            "PIMS_ENCRYPTION_KEY: must be set (32 or more characters) once PIMS credentials "
            f"are stored ({stored} clinic(s) have some); use the key they were stored with"
        )
    if opened == 0:
        raise StartupError(
            f"PIMS_ENCRYPTION_KEY: opens none of the {stored} clinic(s)' stored PIMS "
            "credentials; it must be the key they were stored with (during a rotation, list "
            "the old key in PIMS_ENCRYPTION_KEY_PREVIOUS)"
        )
    for clinic_id in unopened:
        log.warning(
            "stored PIMS credentials cannot be decrypted with the configured keys: this "
            "clinic's syncs fail credentials_undecryptable until `pims-sync credentials set`",
            extra={"clinic_id": str(clinic_id)},
        )
