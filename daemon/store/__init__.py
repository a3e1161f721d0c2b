"""The database: models, migrations, repositories and secrets at rest."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from daemon.store.clinics import ClinicRepository
from daemon.store.crypto import SecretBox
from daemon.store.database import Database
from daemon.store.keys import ApiKeyRepository
from daemon.store.secrets import CredentialRepository, DatabaseSessionStore
from daemon.store.syncs import SyncRunRepository


@dataclass
class Store:
    """The repositories over one database, handed to whoever needs them."""

    db: Database
    box: SecretBox
    clinics: ClinicRepository = field(init=False)
    keys: ApiKeyRepository = field(init=False)
    credentials: CredentialRepository = field(init=False)
    syncs: SyncRunRepository = field(init=False)

    def __post_init__(self) -> None:
        self.clinics = ClinicRepository(self.db)
        self.keys = ApiKeyRepository(self.db)
        self.credentials = CredentialRepository(self.db, self.box)
        self.syncs = SyncRunRepository(self.db)

    def session_store(self, clinic_id: uuid.UUID) -> DatabaseSessionStore:
        return DatabaseSessionStore(self.db, self.box, clinic_id)


__all__ = ["Database", "SecretBox", "Store"]
