"""Contract §3.2: a trigger queues a sync, waits for it (or not), and refuses a duplicate."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date

import pytest

from daemon.sync.requests import SyncRequest
from tests.http.conftest import Api
from tests.http.standin import STATS


@pytest.mark.parametrize("status", ["completed", "partial"])
def test_trigger_waits_for_the_sync_and_returns_its_result(api: Api, status: str) -> None:
    pending = api.client.start(
        "POST",
        "/api/sync/cases",
        headers=api.auth(),
        json_body={"startDate": "2025-03-01", "endDate": "2025-03-07"},
    )
    queued = api.wait_queued("cases")
    assert not pending.done()  # still waiting for the sync, as promised
    api.dispatcher.run_to_end(queued.id, status)
    reply = pending.result(30)
    assert reply.status == 200
    body = reply.json()
    assert body == {
        "success": status == "completed",
        "syncId": str(queued.id),
        "status": status,
        "stats": STATS,
        "durationMs": body["durationMs"],
        "errors": [] if status == "completed" else [{"code": "pims_unavailable", "message": "x"}],
    }
    assert isinstance(body["durationMs"], int)


def test_the_request_reaches_the_dispatcher_with_the_body_and_defaults(api: Api) -> None:
    api.post_async(
        "/api/sync/cases",
        {
            "startDate": "2025-03-01",
            "endDate": "2025-03-02",
            "parallelBatchSize": 9,
            "forceFullSync": True,
        },
    )
    api.post_async("/api/sync/inbound")
    api.post_async("/api/sync/reconcile", {"lookbackDays": 30, "force": True})
    assert [request for _, request in api.dispatcher.submitted] == [
        SyncRequest(
            "cases",
            "api",
            start_date=date(2025, 3, 1),
            end_date=date(2025, 3, 2),
            parallel_batch_size=9,
            force_full_sync=True,
        ),
        SyncRequest("inbound", "api"),  # dates None: the engine's defaults
        SyncRequest("reconciliation", "api", lookback_days=30, force=True),
    ]
    cases = api.store.syncs.active_of_type(api.clinic_id, "cases")
    assert cases is not None and cases.trigger == "api"
    assert (cases.start_date, cases.end_date) == (date(2025, 3, 1), date(2025, 3, 2))


def test_defaults_when_the_body_is_empty(api: Api) -> None:
    api.post_async("/api/sync/cases")
    api.post_async("/api/sync/reconciliation", {})
    cases, reconciliation = (request for _, request in api.dispatcher.submitted)
    assert (cases.start_date, cases.end_date, cases.parallel_batch_size) == (None, None, 5)
    assert cases.force_full_sync is False
    assert (reconciliation.lookback_days, reconciliation.force) == (7, False)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [(b"", None), (b"", "application/json"), (b"  \n", "application/json"), (b"", "text/plain")],
    ids=["none", "empty-json", "blank-json", "empty-text"],
)
def test_an_empty_body_means_defaults_whatever_the_content_type(
    api: Api, body: bytes, content_type: str | None
) -> None:
    headers = {**api.auth(), "Prefer": "respond-async"}
    if content_type:
        headers["Content-Type"] = content_type
    reply = api.client.request("POST", "/api/sync/inbound", headers=headers, data=body)
    assert reply.status == 202, reply.text
    assert api.dispatcher.submitted[-1][1] == SyncRequest("inbound", "api")


def test_prefer_respond_async_answers_202_at_once(api: Api) -> None:
    reply = api.post("/api/sync/reconciliation", {}, Prefer="return=minimal, RESPOND-ASYNC; wait=5")
    assert reply.status == 202
    body = reply.json()
    sync_id = body["syncId"]
    assert body == {
        "success": True,
        "syncId": sync_id,
        "status": "queued",
        "statusUrl": f"/api/sync/reconciliation/{sync_id}",
        "streamUrl": f"/api/sync/reconciliation/{sync_id}/stream",
    }
    assert reply.headers["Location"] == body["statusUrl"]
    assert reply.headers["Preference-Applied"] == "respond-async"
    record = api.store.syncs.get(uuid.UUID(sync_id))
    assert record is not None and record.status == "queued"  # not waited for
    assert api.get(body["statusUrl"]).json()["status"] == "queued"


def test_the_alias_answers_with_canonical_urls(api: Api) -> None:
    body = api.post_async("/api/sync/reconcile").json()
    assert body["statusUrl"] == f"/api/sync/reconciliation/{body['syncId']}"
    assert api.get(body["statusUrl"]).status == 200


def test_still_running_at_the_cap_is_202_and_the_sync_goes_on(
    make_api: Callable[..., Api],
) -> None:
    api = make_api(wait_s=0.3)
    api.dispatcher.start_at_once = True
    reply = api.post("/api/sync/inbound")
    assert reply.status == 202
    assert reply.json()["status"] == "running"
    assert "Preference-Applied" not in reply.headers
    sync_id = uuid.UUID(reply.json()["syncId"])
    api.store.syncs.finish(sync_id, status="completed", stats={}, errors=[], error_code=None)
    assert api.get(reply.json()["statusUrl"]).json()["status"] == "completed"


def test_a_zero_wait_cap_answers_202_queued(make_api: Callable[..., Api]) -> None:
    api = make_api(wait_s=0)
    reply = api.post("/api/sync/cases")
    assert reply.status == 202
    assert reply.json()["status"] == "queued"


def test_a_second_trigger_of_a_queued_type_is_409_naming_the_first(api: Api) -> None:
    first = api.post_async("/api/sync/inbound").json()["syncId"]
    reply = api.post("/api/sync/inbound", {"forceFullSync": True})
    assert reply.status == 409
    assert reply.json() == {
        "success": False,
        "error": {"code": "sync_in_progress", "message": reply.json()["error"]["message"]},
        "syncId": first,
    }
    assert "inbound" in reply.json()["error"]["message"]
    # While it runs, too; and another type queues behind it.
    api.store.syncs.start(uuid.UUID(first))
    assert api.post("/api/sync/inbound").json()["syncId"] == first
    assert api.post_async("/api/sync/cases").status == 202


def test_after_the_sync_ends_a_new_trigger_is_accepted(api: Api) -> None:
    first = uuid.UUID(api.post_async("/api/sync/inbound").json()["syncId"])
    api.dispatcher.run_to_end(first)
    again = api.post_async("/api/sync/inbound")
    assert again.status == 202
    assert again.json()["syncId"] != str(first)


def test_draining_is_503(api: Api) -> None:
    api.dispatcher.draining = True
    reply = api.post("/api/sync/inbound")
    assert reply.status == 503
    assert reply.json()["error"]["code"] == "unavailable"
    assert api.dispatcher.submitted == []
    # Reading status goes on while draining: callers can see their syncs end.
    assert api.get("/api/schedules").status == 200


def test_a_clinic_not_served_is_503_with_a_clear_message(api: Api) -> None:
    api.dispatcher.not_served.add(api.clinic_id)
    reply = api.post("/api/sync/cases")
    assert reply.status == 503
    error = reply.json()["error"]
    assert error["code"] == "unavailable"
    assert "not being served" in error["message"]


def test_rate_limit_is_429_with_retry_after(make_api: Callable[..., Api]) -> None:
    api = make_api(rate=3)
    statuses = [api.post_async("/api/sync/reconciliation").status for _ in range(3)]
    assert statuses == [202, 409, 409]  # refused triggers count too
    reply = api.post_async("/api/sync/reconciliation")
    assert reply.status == 429
    assert reply.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(reply.headers["Retry-After"]) <= 60
    # Per key: another key of the same clinic still gets through; reads are not limited.
    _, other = api.new_key()
    assert api.post_async("/api/sync/reconciliation", key=other).status == 409
    assert api.get("/api/schedules").status == 200
