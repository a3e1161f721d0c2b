"""No secret leaves the process: not on stderr, not in what Axiom receives."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass

import pytest

from daemon.observability import AxiomSettings, configure_logging, get_logger, log_context
from tests.observability.fake_axiom import FakeAxiom

PASSWORD = "Tr0ub4dor&3-horse"
COOKIE = "neo-cookie-9f8e7d6c5b4a"
API_KEY = "pims_sk_" + "Q7w" * 13 + "x"  # 40 characters after the prefix
BEARER = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjbGluaWMifQ.c2lnbmF0dXJl"
SECRETS = (PASSWORD, COOKIE, API_KEY, BEARER)


@dataclass
class Credentials:
    username: str
    password: str


def log_every_way_a_secret_can_slip() -> None:
    log = get_logger("auth")
    # In the message text.
    log.info("login failed for password=%s", PASSWORD)
    log.info("restored cookie neo_session=%s", COOKIE)
    log.info("Cookie: neo_session=%s; theme=dark", COOKIE)
    log.warning("rejected key %s from 10.0.0.1", API_KEY)
    log.info("calling upstream with Authorization: Bearer %s", BEARER)
    log.info("credentials %r", Credentials("front-desk", PASSWORD))
    # In ``extra``, flat and nested.
    log.info(
        "request sent",
        extra={
            "password": PASSWORD,
            "cookies": [{"name": "neo_session", "value": COOKIE}],
            "headers": {"Authorization": f"Bearer {BEARER}", "X-API-Key": API_KEY},
            "note": f"key was {API_KEY}",
            "login": Credentials("front-desk", PASSWORD),
        },
    )
    # In exception text.
    try:
        raise PermissionError(f"GET /login?user=a&password={PASSWORD} answered 401")
    except PermissionError:
        log.exception("login error")


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_no_secret_reaches_stderr_or_axiom(
    fmt: str, fake_axiom: FakeAxiom, fake_axiom_settings: AxiomSettings
) -> None:
    stream = io.StringIO()
    handle = configure_logging("DEBUG", fmt, axiom=fake_axiom_settings, stream=stream)
    with log_context(clinic_id="c-1", sync_id="s-1"):
        log_every_way_a_secret_can_slip()
    assert handle.shutdown(timeout_s=5.0) is True

    written = stream.getvalue()
    shipped = "\n".join(batch.decoded for batch in fake_axiom.batches)
    raw = b"".join(attempt.body for attempt in fake_axiom.attempts)
    assert len(fake_axiom.events) == 8  # everything was shipped, masked
    assert written.count("[REDACTED]") >= 10
    for secret in SECRETS:
        assert secret not in written, secret
        assert secret not in shipped, secret
        assert secret.encode() not in raw
    # The masked lines keep what is useful.
    messages = [event["message"] for event in fake_axiom.events]
    assert "rejected key pims_sk_[REDACTED] from 10.0.0.1" in messages
    request_sent = next(e for e in fake_axiom.events if e["message"] == "request sent")
    assert request_sent["headers"] == {"Authorization": "[REDACTED]", "X-API-Key": "[REDACTED]"}
    assert request_sent["clinic_id"] == "c-1"
    if fmt == "json":
        assert all(json.loads(line) for line in written.splitlines() if line.startswith("{"))
