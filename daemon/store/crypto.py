"""Secrets at rest: PIMS credentials and session cookies, encrypted with AES-256-GCM.

Each value gets its own random salt and nonce; its key is derived with HKDF-SHA256 from
``PIMS_ENCRYPTION_KEY`` (a high-entropy secret, so a slow password KDF would only cost time on
every read). The stored text names the key that sealed it by a short fingerprint, so that during
a rotation a value sealed with an older key (``PIMS_ENCRYPTION_KEY_PREVIOUS``) is still opened.
The clinic id and the field name are bound in as associated data: a value copied to another
clinic's row or another column does not decrypt.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

FORMAT = "pse1"
SALT_BYTES = 16
NONCE_BYTES = 12


class EncryptionKeyMissing(RuntimeError):
    def __init__(self) -> None:
        super().__init__(
            "PIMS_ENCRYPTION_KEY: must be set (32 or more characters) to store or read PIMS "
            "credentials and sessions"
        )


class UndecryptableSecret(RuntimeError):
    """A stored secret could not be opened with any configured key. Never carries plaintext."""

    code = "credentials_undecryptable"

    def __init__(self, clinic_id: str, what: str, reason: str) -> None:
        super().__init__(f"clinic {clinic_id}: stored {what} cannot be decrypted: {reason}")
        self.clinic_id = clinic_id


def key_fingerprint(key: str) -> str:
    return hashlib.sha256(b"pims-sync key id\x00" + key.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class SecretBox:
    current_key: str | None = field(repr=False)
    previous_keys: tuple[str, ...] = field(default=(), repr=False)

    @property
    def current_key_id(self) -> str:
        if self.current_key is None:
            raise EncryptionKeyMissing()
        return key_fingerprint(self.current_key)

    def _keys_by_id(self) -> dict[str, str]:
        keys = {key_fingerprint(k): k for k in self.previous_keys}
        if self.current_key is not None:
            keys[key_fingerprint(self.current_key)] = self.current_key
        return keys

    @staticmethod
    def _derive(key: str, salt: bytes) -> bytes:
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=b"pims-sync secret v1")
        return hkdf.derive(key.encode())

    @staticmethod
    def _aad(clinic_id: str, what: str) -> bytes:
        return f"{clinic_id}\x00{what}".encode()

    def encrypt(self, plaintext: str, *, clinic_id: str, what: str) -> str:
        if self.current_key is None:
            raise EncryptionKeyMissing()
        salt, nonce = os.urandom(SALT_BYTES), os.urandom(NONCE_BYTES)
        sealed = AESGCM(self._derive(self.current_key, salt)).encrypt(
            nonce, plaintext.encode(), self._aad(clinic_id, what)
        )
        body = base64.urlsafe_b64encode(salt + nonce + sealed).decode()
        return f"{FORMAT}.{self.current_key_id}.{body}"

    def key_id_of(self, stored: str) -> str | None:
        parts = stored.split(".", 2)
        return parts[1] if len(parts) == 3 and parts[0] == FORMAT else None

    def needs_rotation(self, stored: str) -> bool:
        return self.key_id_of(stored) != self.current_key_id

    def decrypt(self, stored: str, *, clinic_id: str, what: str) -> str:
        parts = stored.split(".", 2)
        if len(parts) != 3 or parts[0] != FORMAT:
            raise UndecryptableSecret(clinic_id, what, "unknown storage format")
        key = self._keys_by_id().get(parts[1])
        if key is None:
            if self.current_key is None and not self.previous_keys:
                raise EncryptionKeyMissing()
            raise UndecryptableSecret(
                clinic_id,
                what,
                "it was sealed with a key that is neither PIMS_ENCRYPTION_KEY nor listed in "
                "PIMS_ENCRYPTION_KEY_PREVIOUS",
            )
        try:
            raw = base64.urlsafe_b64decode(parts[2].encode())
            salt, nonce, sealed = (
                raw[:SALT_BYTES],
                raw[SALT_BYTES : SALT_BYTES + NONCE_BYTES],
                raw[SALT_BYTES + NONCE_BYTES :],
            )
            plain = AESGCM(self._derive(key, salt)).decrypt(
                nonce, sealed, self._aad(clinic_id, what)
            )
        except (InvalidTag, ValueError):
            raise UndecryptableSecret(
                clinic_id, what, "authentication failed (tampered, or bound to another clinic)"
            ) from None
        return plain.decode()
