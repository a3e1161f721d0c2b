"""Contract §3.1 on every route: a revoked or expired key is refused everywhere (triggers,
the deprecated aliases, status, streams), a key never sees another clinic's sync, and every
trigger route checks its own permission."""

from __future__ import annotations

import uuid

import pytest

from daemon.store.models import PERMISSIONS
from tests.http.conftest import Api

TRIGGERS = ["/api/sync/inbound", "/api/sync/cases", "/api/sync/reconciliation",
            "/api/sync/reconcile", "/api/sync/full"]  # fmt: skip


def _routes(api: Api) -> list[tuple[str, str]]:
    """Every /api/ route, the read routes on a real sync of the key's clinic (so a refusal
    there is about the key, not a 404)."""
    inbound = api.store.syncs.enqueue(api.clinic_id, "inbound", "cli")
    recon = api.store.syncs.enqueue(api.clinic_id, "reconciliation", "cli")
    reads = [
        f"/api/sync/inbound/{inbound.id}",
        f"/api/sync/inbound/{inbound.id}/stream",
        f"/api/sync/reconcile/{recon.id}",
        f"/api/sync/reconciliation/{recon.id}/stream",
        "/api/schedules",
    ]
    return [("POST", path) for path in TRIGGERS] + [("GET", path) for path in reads]


def _refused(api: Api, key: str) -> None:
    for method, path in _routes(api):
        reply = api.client.request(method, path, headers=api.auth(key))
        assert reply.status == 401, (method, path, reply.status)
        assert reply.json()["error"]["code"] == "unauthorized"
    assert api.dispatcher.submitted == []


def test_a_revoked_key_is_refused_on_every_route(api: Api) -> None:
    key_id, key = api.new_key()
    assert api.get("/api/schedules", key).status == 200
    api.store.keys.revoke(key_id)
    _refused(api, key)


def test_an_expired_key_is_refused_on_every_route(api: Api) -> None:
    _, key = api.new_key(expires_in_days=0)
    _refused(api, key)


@pytest.mark.parametrize(
    "path",
    ["/api/sync/{type}/{id}", "/api/sync/{type}/{id}/stream"],
    ids=["status", "stream"],
)
@pytest.mark.parametrize("route_type", ["inbound", "cases", "reconciliation", "reconcile"])
def test_another_clinics_sync_is_404_like_one_that_does_not_exist(
    api: Api, path: str, route_type: str
) -> None:
    sync_type = "reconciliation" if route_type == "reconcile" else route_type
    other = api.store.syncs.enqueue(api.new_clinic(), sync_type, "cli")
    theirs = api.get(path.format(type=route_type, id=other.id))
    nobodys = api.get(path.format(type=route_type, id=uuid.uuid4()))
    assert theirs.status == nobodys.status == 404
    assert theirs.json() == nobodys.json()


@pytest.mark.parametrize("path", TRIGGERS)
def test_every_trigger_route_checks_its_permission(api: Api, path: str) -> None:
    _, read_only = api.new_key(permissions=("sync:read",))
    reply = api.post(path, {}, read_only)
    assert reply.status == 403
    assert reply.json()["error"]["code"] == "forbidden"
    assert api.dispatcher.submitted == []


@pytest.mark.parametrize("missing", ["sync:inbound", "sync:cases", "sync:reconciliation"])
def test_the_full_route_needs_all_three_sync_permissions(api: Api, missing: str) -> None:
    _, key = api.new_key(permissions=tuple(p for p in PERMISSIONS if p != missing))
    reply = api.post("/api/sync/full", {}, key)
    assert reply.status == 403
    assert missing in reply.json()["error"]["message"]
    assert api.dispatcher.submitted == []


@pytest.mark.parametrize("change", ["revoke", "deactivate-clinic"])
def test_an_open_stream_ends_when_its_key_stops_being_valid(api: Api, change: str) -> None:
    key_id, key = api.new_key()
    record = api.store.syncs.enqueue(api.clinic_id, "cases", "cli")
    api.store.syncs.start(record.id)
    stream = api.client.stream(f"/api/sync/cases/{record.id}/stream", api.auth(key))
    assert stream.status.result(10) == 200
    first = stream.next_named()
    assert first is not None and first.name == "progress"
    if change == "revoke":
        api.store.keys.revoke(key_id)
    else:
        api.store.clinics.update(api.clinic_id, is_active=False)
    stream.done.result(10)  # the server closed the stream while the sync still runs
    current = api.store.syncs.get(record.id)
    assert current is not None and not current.is_final
    # Nothing about the sync went out after the close: the last event is progress, not final.
    events = [e for e in iter(lambda: stream.events.get(timeout=1), None) if e.name != ":comment"]
    assert all(e.name == "progress" for e in events)
