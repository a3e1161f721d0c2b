"""Contract §3.2 bodies and §3.1's order of checks: 413, 415 and 400 naming each field."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from daemon.store.apikeys import generate_key
from tests.http.conftest import Api

INVALID: list[tuple[str, Any, set[str]]] = [
    # (route, body, the fields the 400 must name)
    ("inbound", {"foo": 1}, {"foo"}),
    ("inbound", {"dateRange": "2025-01-01"}, {"dateRange"}),
    ("inbound", {"dateRange": {"start": "2025-01-01"}}, {"dateRange.end"}),
    (
        "inbound",
        {"dateRange": {"start": "2025-01-01", "end": "2025-01-02", "x": 1}},
        {"dateRange.x"},
    ),
    ("inbound", {"dateRange": {"start": "2025-1-1", "end": "2025-01-02"}}, {"dateRange.start"}),
    ("inbound", {"dateRange": {"start": "2025-02-30", "end": "2025-03-02"}}, {"dateRange.start"}),
    ("inbound", {"dateRange": {"start": "2025-03-02", "end": "2025-03-01"}}, {"dateRange.end"}),
    ("inbound", {"dateRange": {"start": "2025-01-01", "end": "2025-03-04"}}, {"dateRange.end"}),
    ("inbound", {"forceFullSync": "yes"}, {"forceFullSync"}),
    ("inbound", {"forceFullSync": 1}, {"forceFullSync"}),
    ("cases", {"startDate": "2025-01-01"}, {"endDate"}),
    ("cases", {"endDate": "2025-01-01"}, {"startDate"}),
    ("cases", {"startDate": None, "endDate": "2025-01-01"}, {"startDate"}),
    ("cases", {"startDate": 20250101, "endDate": "2025-01-01"}, {"startDate"}),
    ("cases", {"startDate": "2025-01-01T00:00:00", "endDate": "2025-01-01"}, {"startDate"}),
    ("cases", {"startDate": "2025-01-05", "endDate": "2025-01-04"}, {"endDate"}),
    ("cases", {"parallelBatchSize": 0}, {"parallelBatchSize"}),
    ("cases", {"parallelBatchSize": 21}, {"parallelBatchSize"}),
    ("cases", {"parallelBatchSize": 5.5}, {"parallelBatchSize"}),
    ("cases", {"parallelBatchSize": 21.0}, {"parallelBatchSize"}),
    ("cases", {"parallelBatchSize": True}, {"parallelBatchSize"}),
    ("cases", {"parallelBatchSize": "5"}, {"parallelBatchSize"}),
    ("cases", {"dateRange": {"start": "2025-01-01", "end": "2025-01-02"}}, {"dateRange"}),
    ("reconciliation", {"lookbackDays": 0}, {"lookbackDays"}),
    ("reconciliation", {"lookbackDays": 91}, {"lookbackDays"}),
    ("reconciliation", {"lookbackDays": None}, {"lookbackDays"}),
    ("reconciliation", {"force": "true"}, {"force"}),
    ("reconcile", {"lookbackDay": 3}, {"lookbackDay"}),
    (
        "reconciliation",
        {"clinicId": 42, "lookbackDays": -1, "force": 0},
        {"clinicId", "lookbackDays", "force"},
    ),
    # The sane date window: 2000-01-01 … today + 5 years, named by field.
    ("cases", {"startDate": "1999-12-31", "endDate": "2000-01-02"}, {"startDate"}),
    ("cases", {"startDate": "0202-01-01", "endDate": "0202-01-02"}, {"startDate", "endDate"}),
    (
        "inbound",
        {"dateRange": {"start": "2205-01-01", "end": "2205-01-02"}},
        {"dateRange.start", "dateRange.end"},
    ),
    ("inbound", {"force": "yes"}, {"force"}),
    # A range named two ways at once.
    (
        "inbound",
        {"dateRange": {"start": "2025-01-01", "end": "2025-01-02"}, "daysAhead": 3},
        {"daysAhead"},
    ),
    ("inbound", {"daysAhead": 63}, {"daysAhead"}),
    ("inbound", {"daysAhead": 0}, {"daysAhead"}),
    ("inbound", {"startDate": "2025-01-01"}, {"endDate"}),
    # One bound valid, the other of the wrong type (found by schemathesis: once a 500).
    (
        "inbound",
        {"startDate": "2000-01-15", "endDate": False, "dateRange": True},
        {"endDate", "dateRange"},
    ),
    ("full", {"startDate": "2000-01-01", "endDate": ""}, {"endDate"}),
]


@pytest.mark.parametrize(("route", "body", "fields"), INVALID)
def test_invalid_bodies_are_400_naming_every_bad_field(
    api: Api, route: str, body: Any, fields: set[str]
) -> None:
    reply = api.post(f"/api/sync/{route}", body)
    assert reply.status == 400, reply.text
    error = reply.json()["error"]
    assert error["code"] == "invalid_request"
    assert {detail["field"] for detail in error["details"]} == fields
    assert all(detail["message"] for detail in error["details"])
    assert api.dispatcher.submitted == []


@pytest.mark.parametrize(
    ("route", "body"),
    [
        ("inbound", {"dateRange": {"start": "2025-01-01", "end": "2025-03-03"}}),  # 62 dates
        ("inbound", {"dateRange": {"start": "2024-02-29", "end": "2024-02-29"}}),
        ("cases", {"startDate": "2025-01-01", "endDate": "2025-01-01", "parallelBatchSize": 1}),
        ("cases", {"parallelBatchSize": 20, "forceFullSync": False}),
        ("reconciliation", {"lookbackDays": 1}),
        ("reconciliation", {"lookbackDays": 90, "force": False}),
        # An integral number written 25.0 is an integer (JSON Schema's rule, the OpenAPI's).
        ("cases", {"parallelBatchSize": 20.0}),
        ("reconciliation", {"lookbackDays": 25.0}),
        ("cases", {"startDate": "2000-01-01", "endDate": "2000-01-01"}),
        ("inbound", {"force": True, "forceFullSync": True}),
    ],
)
def test_values_at_the_edges_are_accepted(api: Api, route: str, body: Any) -> None:
    assert api.post_async(f"/api/sync/{route}", body).status == 202


@pytest.mark.parametrize(
    "raw",
    [
        b"{",
        b"[]",
        b'"text"',
        b"null",
        b"42",
        b'{"lookbackDays": NaN}',
        b"\xff\xfe{}",
        b"[" * 10_000 + b"]" * 10_000,
    ],
    ids=["truncated", "array", "string", "null", "number", "nan", "not-utf8", "deep"],
)
def test_a_body_that_is_not_a_json_object_is_400(api: Api, raw: bytes) -> None:
    reply = api.client.request(
        "POST",
        "/api/sync/reconciliation",
        data=raw,
        headers={**api.auth(), "Content-Type": "application/json"},
    )
    assert reply.status == 400
    error = reply.json()["error"]
    assert error["code"] == "invalid_request"
    assert error["details"][0]["field"] == "body"


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"],
)
def test_a_body_that_is_not_declared_json_is_415(api: Api, content_type: str | None) -> None:
    headers = api.auth()
    if content_type is not None:
        headers["Content-Type"] = content_type
    reply = api.client.request(
        "POST", "/api/sync/inbound", data=b'{"forceFullSync": true}', headers=headers
    )
    assert reply.status == 415
    assert reply.json()["error"]["code"] == "unsupported_media_type"


def test_json_content_types_with_parameters_or_suffix_are_accepted(api: Api) -> None:
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        reply = api.client.request(
            "POST",
            "/api/sync/inbound",
            data=b"{}",
            headers={**api.auth(), "Content-Type": content_type, "Prefer": "respond-async"},
        )
        assert reply.status in (202, 409), content_type


def big_body(size: int = 70 * 1024) -> bytes:
    return json.dumps({"padding": "x" * size}).encode()


def test_a_body_over_64_kib_is_413(api: Api) -> None:
    reply = api.client.request(
        "POST",
        "/api/sync/inbound",
        data=big_body(),
        headers={**api.auth(), "Content-Type": "application/json"},
    )
    assert reply.status == 413
    assert reply.json()["error"]["code"] == "payload_too_large"


def test_a_chunked_body_over_64_kib_is_413(api: Api) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(70):
            yield b" " * 1024  # no Content-Length: the server must count

    reply = api.client.request(
        "POST",
        "/api/sync/inbound",
        data=chunks(),
        headers={**api.auth(), "Content-Type": "application/json"},
    )
    assert reply.status == 413


def test_a_body_just_under_64_kib_is_read(api: Api) -> None:
    raw = b'{"lookbackDays": 3}'.ljust(64 * 1024, b" ")
    reply = api.client.request(
        "POST",
        "/api/sync/reconciliation",
        data=raw,
        headers={**api.auth(), "Content-Type": "application/json", "Prefer": "respond-async"},
    )
    assert reply.status == 202


# -- the order of checks (contract §3.1) ----------------------------------------------------------

BAD_KEY = {"X-API-Key": generate_key()}


def test_unknown_route_or_type_is_404_before_authentication(api: Api) -> None:
    for method, path in [
        ("POST", "/api/sync/everything"),
        ("GET", "/api/nothing"),
        ("GET", f"/api/sync/appointments/{uuid.uuid4()}"),
        ("POST", "/api/sync/inbound/"),
        ("GET", "/nothing"),
    ]:
        reply = api.client.request(method, path, headers=BAD_KEY)
        assert reply.status == 404, path
        assert reply.json()["error"]["code"] == "not_found"


def test_wrong_method_is_405_before_authentication(api: Api) -> None:
    for method, path in [
        ("GET", "/api/sync/inbound"),
        ("DELETE", "/api/sync/cases"),
        ("GET", "/api/sync/full"),
        ("PUT", "/api/schedules"),
        ("POST", "/health"),
        ("HEAD", "/openapi.json"),
        ("HEAD", f"/api/sync/inbound/{uuid.uuid4()}"),
    ]:
        reply = api.client.request(method, path, headers=BAD_KEY)
        assert reply.status == 405, (method, path)
        assert reply.headers["Allow"]
        if method != "HEAD":
            assert reply.json()["error"]["code"] == "method_not_allowed"


def test_a_bad_key_is_401_before_a_bad_body(api: Api) -> None:
    for body, headers in [
        (big_body(), {"Content-Type": "text/plain"}),
        (b"{nope", {"Content-Type": "application/json"}),
    ]:
        reply = api.client.request(
            "POST", "/api/sync/inbound", data=body, headers={**BAD_KEY, **headers}
        )
        assert reply.status == 401


def test_a_missing_permission_is_403_before_draining_and_a_bad_body(api: Api) -> None:
    _, key = api.new_key(permissions=("sync:read",))
    api.dispatcher.draining = True
    reply = api.client.request(
        "POST",
        "/api/sync/inbound",
        data=b"{nope",
        headers={"X-API-Key": key, "Content-Type": "application/json"},
    )
    assert reply.status == 403


def test_draining_is_503_before_the_rate_limit_and_the_body(
    make_api: Callable[..., Api],
) -> None:
    api = make_api(rate=1)
    api.post_async("/api/sync/inbound")
    api.dispatcher.draining = True
    reply = api.client.request(
        "POST",
        "/api/sync/inbound",
        data=big_body(),
        headers={**api.auth(), "Content-Type": "text/plain"},
    )
    assert reply.status == 503


def test_the_rate_limit_is_429_before_the_body(make_api: Callable[..., Api]) -> None:
    api = make_api(rate=1)
    assert api.post_async("/api/sync/inbound").status == 202
    reply = api.client.request(
        "POST",
        "/api/sync/inbound",
        data=big_body(),
        headers={**api.auth(), "Content-Type": "text/plain"},
    )
    assert reply.status == 429


def test_too_large_is_413_before_the_wrong_type(api: Api) -> None:
    reply = api.client.request(
        "POST",
        "/api/sync/inbound",
        data=big_body(),
        headers={**api.auth(), "Content-Type": "text/plain"},
    )
    assert reply.status == 413


def test_the_wrong_type_is_415_before_bad_json(api: Api) -> None:
    reply = api.client.request(
        "POST",
        "/api/sync/inbound",
        data=b"{nope",
        headers={**api.auth(), "Content-Type": "text/plain"},
    )
    assert reply.status == 415


def test_a_bad_body_is_400_before_the_duplicate_409(api: Api) -> None:
    assert api.post_async("/api/sync/inbound").status == 202
    assert api.post("/api/sync/inbound", {"bogus": True}).status == 400
    assert api.post("/api/sync/inbound").status == 409


def test_a_bad_key_is_401_before_an_unknown_sync_id(api: Api) -> None:
    for path in ("/api/sync/inbound/not-a-uuid", f"/api/sync/cases/{uuid.uuid4()}/stream"):
        assert api.client.request("GET", path, headers=BAD_KEY).status == 401
        assert api.client.request("GET", path, headers=api.auth()).status == 404
