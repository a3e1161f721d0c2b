from __future__ import annotations

import logging
import sys
from dataclasses import dataclass

import pytest

from daemon.observability.redaction import (
    MASK,
    RedactionFilter,
    is_sensitive_key,
    redact,
    redact_text,
)

API_KEY = "pims_sk_" + "Ab3" * 13 + "Z"  # 40 characters after the prefix


@pytest.mark.parametrize(
    "key",
    [
        "password", "Password", "db_password", "passwd", "secret", "client_secret", "token",
        "access_token", "api_key", "apiKey", "x-api-key", "X-API-Key", "authorization",
        "Authorization", "cookie", "cookies", "set-cookie", "Set-Cookie", "session",
        "neo_session", "PHPSESSID", "JSESSIONID", "XSRF-TOKEN", "username", "companyId",
        "company_id", "encryption_key",
    ],
)  # fmt: skip
def test_sensitive_keys(key: str) -> None:
    assert is_sensitive_key(key)


@pytest.mark.parametrize(
    "key", ["clinic_id", "sync_id", "message", "endpoint", "status", "count", "url", "keys"]
)
def test_ordinary_keys(key: str) -> None:
    assert not is_sensitive_key(key)


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (f"key {API_KEY} created", API_KEY),
        ("header Authorization: Bearer eyJhbGciOi.payload.sig", "eyJhbGciOi.payload.sig"),
        ("sent Bearer abcdef123456 upstream", "abcdef123456"),
        ("Authorization: Basic dXNlcjpodW50ZXIy", "dXNlcjpodW50ZXIy"),
        ("Cookie: neo_session=s3cr3t; theme=dark", "s3cr3t"),
        ("Set-Cookie: neo_session=s3cr3t; Path=/; HttpOnly", "s3cr3t"),
        ("restored cookies neo_session=s3cr3t for the clinic", "s3cr3t"),
        ("GET /login?user=bob&password=hunter2&next=/", "hunter2"),
        ("postgresql://app:hunter2@db.internal:5432/pims", "hunter2"),
        ("{'username': 'bob', 'password': 'hunter 2'}", "hunter 2"),
        ('{"apiKey": "k-123456", "ok": true}', "k-123456"),
        ('Credentials(username="bob", password="hunter2")', "hunter2"),
        ("x-api-key: pims_sk_short1234", "pims_sk_short1234"),
    ],
)
def test_text_patterns_are_masked(text: str, secret: str) -> None:
    masked = redact_text(text)
    assert secret not in masked
    assert MASK in masked


def test_text_keeps_what_is_not_secret() -> None:
    text = "synced 12 appointments for clinic c-1 at https://us.idexxneo.com/appointments"
    assert redact_text(text) == text
    assert redact_text("session_reused=true") == "session_reused=true"


def test_masking_twice_changes_nothing_more() -> None:
    once = redact_text(f"Authorization: Bearer abcdef123456 and {API_KEY} password=x")
    assert redact_text(once) == once


def test_structures_are_masked_by_key_and_content_without_touching_the_input() -> None:
    original = {
        "headers": {"Authorization": "Bearer abcdef123456", "Accept": "application/json"},
        "cookies": [{"name": "neo_session", "value": "s3cr3t"}],
        "attempts": [f"used {API_KEY}", 3],
        "session_reused": True,
        "password": None,
    }
    masked = redact(original)
    assert masked == {
        "headers": {"Authorization": MASK, "Accept": "application/json"},
        "cookies": MASK,
        "attempts": [f"used pims_sk_{MASK}", 3],
        "session_reused": True,
        "password": None,
    }
    assert original["headers"]["Authorization"] == "Bearer abcdef123456"  # type: ignore[index]


def test_dataclasses_become_masked_dicts() -> None:
    @dataclass
    class Login:
        username: str
        password: str
        base_url: str

    masked = redact(Login("bob", "hunter2", "https://us.idexxneo.com"))
    assert masked == {"username": MASK, "password": MASK, "base_url": "https://us.idexxneo.com"}


def test_the_filter_masks_message_args_extra_and_exception_text() -> None:
    record = logging.LogRecord(
        "pims_sync.auth", logging.ERROR, __file__, 1, "login as %s with %s", ("bob", API_KEY), None
    )
    record.cookie = "neo_session=s3cr3t"
    record.details = {"token": "t0k3n", "endpoint": "/login"}
    try:
        raise ValueError("rejected password=hunter2")
    except ValueError:
        record.exc_info = sys.exc_info()
    assert RedactionFilter().filter(record) is True
    assert record.getMessage() == f"login as bob with pims_sk_{MASK}"
    assert record.cookie == MASK  # type: ignore[attr-defined]
    assert record.details == {"token": MASK, "endpoint": "/login"}  # type: ignore[attr-defined]
    assert record.exc_info is None
    assert record.exc_text is not None
    assert "hunter2" not in record.exc_text
    assert "ValueError" in record.exc_text
