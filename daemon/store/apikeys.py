"""API keys: ``pims_sk_`` + 40 base62 characters; only the SHA-256 and a display prefix stored."""

from __future__ import annotations

import hashlib
import re
import secrets
import string

KEY_PREFIX = "pims_sk_"
KEY_RANDOM_LENGTH = 40
DISPLAY_PREFIX_LENGTH = 12
_ALPHABET = string.ascii_letters + string.digits
KEY_PATTERN = re.compile(rf"^{KEY_PREFIX}[A-Za-z0-9]{{{KEY_RANDOM_LENGTH}}}$")


def generate_key() -> str:
    return KEY_PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(KEY_RANDOM_LENGTH))


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def display_prefix(key: str) -> str:
    return key[:DISPLAY_PREFIX_LENGTH]


def looks_like_key(value: str) -> bool:
    return KEY_PATTERN.fullmatch(value) is not None
