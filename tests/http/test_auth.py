"""Contract §3.1: who may call what, and what a refusal looks like."""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest

from daemon.store.apikeys import generate_key
from tests.http.client import Reply
from tests.http.conftest import Api


def error_code(reply: Reply) -> str:
    body = reply.json()
    assert body["success"] is False
    assert body["error"]["message"]
    return str(body["error"]["code"])


def last_used(api: Api, key_id: uuid.UUID) -> datetime | None:
    view = api.store.keys.get(key_id)
    assert view is not None
    return view.last_used_at


ROUTES = [
    ("POST", "/api/sync/inbound"),
    ("POST", "/api/sync/cases"),
    ("POST", "/api/sync/reconciliation"),
    ("POST", "/api/sync/reconcile"),
    ("GET", f"/api/sync/inbound/{uuid.uuid4()}"),
    ("GET", f"/api/sync/cases/{uuid.uuid4()}/stream"),
    ("GET", "/api/schedules"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-API-Key": ""},
        {"X-API-Key": "not-a-key"},
        {"X-API-Key": "pims_sk_short"},
        {"X-API-Key": generate_key()},  # well formed, unknown
    ],
    ids=["missing", "empty", "malformed", "short", "unknown"],
)
def test_missing_malformed_or_unknown_key_is_401(
    api: Api, method: str, path: str, headers: dict[str, str]
) -> None:
    reply = api.client.request(method, path, headers=headers)
    assert reply.status == 401
    assert error_code(reply) == "unauthorized"
    assert api.dispatcher.submitted == []


def test_two_keys_in_one_request_are_refused(api: Api) -> None:
    _, other = api.new_key()
    reply = api.client.request(
        "GET", "/api/schedules", headers=[("X-API-Key", api.key), ("X-API-Key", other)]
    )
    assert reply.status == 401


def test_revoked_key_is_401(api: Api) -> None:
    key_id, key = api.new_key()
    assert api.get("/api/schedules", key).status == 200
    api.store.keys.revoke(key_id)
    reply = api.post("/api/sync/inbound", {}, key)
    assert reply.status == 401
    assert "revoked" in reply.json()["error"]["message"]


def test_expired_key_is_401(api: Api) -> None:
    _, key = api.new_key(expires_in_days=0)  # expires the moment it is made
    reply = api.get("/api/schedules", key)
    assert reply.status == 401
    assert "expired" in reply.json()["error"]["message"]
    _, fresh = api.new_key(expires_in_days=1)
    assert api.get("/api/schedules", fresh).status == 200


@pytest.mark.parametrize(
    ("method", "path", "needs"),
    [
        ("POST", "/api/sync/inbound", "sync:inbound"),
        ("POST", "/api/sync/cases", "sync:cases"),
        ("POST", "/api/sync/reconciliation", "sync:reconciliation"),
        ("POST", "/api/sync/reconcile", "sync:reconciliation"),
        ("GET", f"/api/sync/inbound/{uuid.uuid4()}", "sync:read"),
        ("GET", f"/api/sync/inbound/{uuid.uuid4()}/stream", "sync:read"),
        ("GET", "/api/schedules", "sync:read"),
    ],
)
def test_missing_permission_is_403(api: Api, method: str, path: str, needs: str) -> None:
    others = tuple(
        p for p in ("sync:inbound", "sync:cases", "sync:reconciliation", "sync:read") if p != needs
    )
    _, key = api.new_key(permissions=others)
    reply = api.client.request(method, path, headers=api.auth(key))
    assert reply.status == 403
    assert error_code(reply) == "forbidden"
    assert needs in reply.json()["error"]["message"]
    assert api.dispatcher.submitted == []


def test_narrow_key_may_use_its_one_permission(api: Api) -> None:
    _, key = api.new_key(permissions=("sync:cases",))
    reply = api.post_async("/api/sync/cases", {}, key)
    assert reply.status == 202
    assert api.post_async("/api/sync/inbound", {}, key).status == 403


def test_deactivated_clinic_is_403_clinic_inactive(api: Api) -> None:
    api.store.clinics.update(api.clinic_id, is_active=False)
    for method, path in ROUTES:
        reply = api.client.request(method, path, headers=api.auth())
        assert reply.status == 403, path
        assert error_code(reply) == "clinic_inactive"
    assert api.dispatcher.submitted == []


def test_another_clinics_sync_is_404_and_the_key_acts_on_its_own_clinic(api: Api) -> None:
    other_clinic = api.new_clinic()
    _, other_key = api.new_key(clinic_id=other_clinic)
    mine = api.post_async("/api/sync/inbound").json()["syncId"]
    for path in (f"/api/sync/inbound/{mine}", f"/api/sync/inbound/{mine}/stream"):
        reply = api.get(path, other_key)
        assert reply.status == 404
        assert error_code(reply) == "not_found"
    # The other clinic's trigger goes to the other clinic, whatever the body says.
    assert api.post_async("/api/sync/inbound", {}, other_key).status == 202
    assert [clinic for clinic, _ in api.dispatcher.submitted] == [api.clinic_id, other_clinic]
    # Naming another clinic in the (deprecated) clinicId is 403, and queues nothing.
    reply = api.post("/api/sync/cases", {"clinicId": str(api.clinic_id)}, other_key)
    assert reply.status == 403
    assert error_code(reply) == "forbidden"
    assert len(api.dispatcher.submitted) == 2


def test_last_used_at_is_recorded_at_most_once_a_minute(api: Api) -> None:
    key_id, key = api.new_key()
    assert last_used(api, key_id) is None
    assert api.get("/api/schedules", key).status == 200
    first = last_used(api, key_id)
    assert first is not None
    assert api.get("/api/schedules", key).status == 200
    assert last_used(api, key_id) == first


def test_refused_requests_do_not_record_use(api: Api) -> None:
    key_id, key = api.new_key(permissions=("sync:read",))
    assert api.post("/api/sync/inbound", {}, key).status == 403
    assert last_used(api, key_id) is None
