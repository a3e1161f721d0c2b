"""Contract §7: the callers of the old service keep working (deprecated shapes, one migration path).

The first test replays the old service's request collection — its shapes, written here from
the description of the old routes (every request named the clinic in ``clinicId``; some used
routes that no longer exist). The rest pin each deprecated shape down.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from daemon.store.models import PERMISSIONS
from daemon.sync.requests import SyncRequest
from tests.http.conftest import Api

ZONE = ZoneInfo("America/Los_Angeles")  # the test clinic's


def clinic_today() -> date:
    return datetime.now(ZONE).date()


def days(n: int) -> str:
    return (clinic_today() + timedelta(days=n)).isoformat()


@pytest.fixture
def live(make_api: Callable[..., Api]) -> Api:
    """Every queued sync is run to its end by the stand-in actor, as the daemon would."""
    return make_api(autorun=True)


def collection(clinic: str) -> list[tuple[str, str, Any, int, str | None]]:
    """(method, path, body, expected status, the new route a 404 must name)."""
    return [
        ("GET", "/health", None, 200, None),
        ("GET", "/ready", None, 200, None),
        ("GET", "/metrics", None, 200, None),
        ("POST", "/api/sync/outbound/cases",
         {"clinicId": clinic, "startDate": days(-7), "endDate": days(0)}, 404, "/api/sync/cases"),
        ("POST", "/api/sync/outbound/enrich",
         {"clinicId": clinic, "parallelBatchSize": 5}, 404, "/api/sync/cases"),
        ("POST", "/api/sync/outbound/full",
         {"clinicId": clinic, "bidirectional": True, "backwardDays": 7, "forwardDays": 7},
         404, "/api/sync/full"),
        ("POST", "/api/sync/inbound/schedule",
         {"clinicId": clinic, "daysAhead": 30, "slotDurationMinutes": 15, "defaultCapacity": 2},
         404, "/api/sync/inbound"),
        ("POST", "/api/sync/inbound/appointments",
         {"clinicId": clinic, "daysAhead": 7}, 404, "/api/sync/inbound"),
        ("POST", "/api/sync/full",
         {"clinicId": clinic, "backwardDays": 7, "forwardDays": 7,
          "reconciliationLookbackDays": 7, "scheduleDaysAhead": 30, "slotDurationMinutes": 15,
          "defaultCapacity": 2, "appointmentDaysAhead": 14}, 200, None),
        ("POST", "/api/sync/full", {"clinicId": clinic, "skipInbound": True}, 200, None),
        ("POST", "/api/sync/full", {"clinicId": clinic, "skipOutbound": False}, 200, None),
        ("POST", "/api/sync/reconcile", {"clinicId": clinic, "lookbackDays": 7}, 200, None),
        ("POST", "/api/sync/inbound", {"clinicId": clinic, "daysAhead": 7}, 200, None),
        ("POST", "/api/sync/inbound",
         {"clinicId": clinic, "startDate": days(0), "endDate": days(13)}, 200, None),
        ("POST", "/api/sync/cases",
         {"clinicId": clinic, "startDate": days(-1), "endDate": days(0)}, 200, None),
        ("POST", "/api/sync/reconciliation", {"clinicId": clinic}, 200, None),
    ]  # fmt: skip


def test_the_old_collection_runs_with_deprecations_and_pointers(live: Api) -> None:
    requests = collection(str(live.clinic_id))
    assert len(requests) == 16
    for method, path, body, expected, new_route in requests:
        reply = live.client.request(method, path, headers=live.auth(), json_body=body)
        assert reply.status == expected, (path, body, reply.text)
        if expected == 404:
            error = reply.json()["error"]
            assert error["code"] == "not_found"
            assert new_route is not None and new_route in error["message"]
            assert reply.json()["newRoute"] == new_route
        elif path.startswith("/api/"):
            assert reply.headers["Deprecation"] == "true", path
            assert reply.json()["success"] is True, reply.text


def test_full_runs_inbound_then_cases_then_reconciliation_with_the_old_ranges(live: Api) -> None:
    reply = live.post(
        "/api/sync/full",
        {
            "forwardDays": 7,
            "appointmentDaysAhead": 14,
            "scheduleDaysAhead": 10,
            "backwardDays": 3,
            "lookbackDays": 5,
            "reconciliationLookbackDays": 9,
            "bidirectional": False,
        },
    )
    assert reply.status == 200, reply.text
    assert reply.headers["Deprecation"] == "true"
    body = reply.json()
    today = clinic_today()
    submitted = [request for _, request in live.dispatcher.submitted]
    assert submitted == [
        SyncRequest("inbound", "api", start_date=today, end_date=today + timedelta(days=13)),
        SyncRequest("cases", "api", start_date=today - timedelta(days=3), end_date=today),
        SyncRequest("reconciliation", "api", lookback_days=9),
    ]
    ids = body["syncIds"]
    assert set(ids) == {"inbound", "cases", "reconciliation"}
    for part, sync_id in ids.items():
        record = live.store.syncs.get(uuid.UUID(sync_id))
        assert record is not None and record.sync_type == part and record.is_final
    assert body["success"] is True and body["status"] == "completed"
    assert body["syncId"] == ids["inbound"]
    assert isinstance(body["durationMs"], int)
    assert set(body["results"]) == {"inbound", "cases", "reconciliation"}


def test_full_dates_override_backward_days_and_skips_leave_parts_out(live: Api) -> None:
    reply = live.post(
        "/api/sync/full",
        {"skipInbound": True, "backwardDays": 3, "startDate": days(-5), "endDate": days(-2)},
    )
    assert reply.status == 200, reply.text
    assert reply.json()["syncIds"]["inbound"] is None
    cases, reconciliation = (request for _, request in live.dispatcher.submitted)
    assert (cases.sync_type, cases.start_date, cases.end_date) == (
        "cases",
        clinic_today() - timedelta(days=5),
        clinic_today() - timedelta(days=2),
    )
    assert reconciliation.lookback_days == 7
    both = live.post("/api/sync/full", {"skipInbound": True, "skipOutbound": True})
    assert both.status == 400
    assert {d["field"] for d in both.json()["error"]["details"]} == {"skipOutbound"}


def test_full_answers_at_once_with_prefer_respond_async(api: Api) -> None:
    reply = api.post_async("/api/sync/full", {"skipOutbound": True})
    assert reply.status == 202
    body = reply.json()
    assert body["syncIds"]["inbound"] == body["syncId"]
    assert body["syncIds"]["cases"] is None
    assert body["statusUrl"] == f"/api/sync/inbound/{body['syncId']}"
    assert reply.headers["Deprecation"] == "true"
    assert reply.headers["Preference-Applied"] == "respond-async"


def test_full_is_409_when_any_part_is_active_and_queues_nothing(api: Api) -> None:
    cases = api.post_async("/api/sync/cases").json()["syncId"]
    reply = api.post("/api/sync/full")
    assert reply.status == 409
    assert reply.json()["syncId"] == cases
    assert [request.sync_type for _, request in api.dispatcher.submitted] == ["cases"]


def test_full_needs_all_three_sync_permissions(api: Api) -> None:
    _, key = api.new_key(permissions=("sync:inbound", "sync:cases", "sync:read"))
    reply = api.post("/api/sync/full", key=key)
    assert reply.status == 403
    assert "sync:reconciliation" in reply.json()["error"]["message"]
    _, everything = api.new_key(permissions=PERMISSIONS)
    assert api.post_async("/api/sync/full", key=everything).status == 202


def test_another_clinics_id_is_403_and_nothing_is_queued(api: Api) -> None:
    other = str(api.new_clinic())
    for path in ("/api/sync/inbound", "/api/sync/cases", "/api/sync/reconcile", "/api/sync/full"):
        reply = api.post(path, {"clinicId": other})
        assert reply.status == 403, path
        assert reply.json()["error"]["code"] == "forbidden"
    assert api.post("/api/sync/inbound", {"clinicId": "not-a-uuid"}).status == 403
    assert api.dispatcher.submitted == []
    # The key's own clinic, in any case, is accepted.
    own = api.post_async("/api/sync/inbound", {"clinicId": str(api.clinic_id).upper()})
    assert own.status == 202


def test_days_ahead_and_flat_dates_on_inbound(api: Api) -> None:
    api.post_async("/api/sync/inbound", {"daysAhead": 7})
    (_, request) = api.dispatcher.submitted[-1]
    assert (request.start_date, request.end_date) == (
        clinic_today(),
        clinic_today() + timedelta(days=6),
    )
    api.dispatcher.run_to_end(api.wait_queued("inbound").id)
    reply = api.post_async("/api/sync/inbound", {"startDate": days(1), "endDate": days(2)})
    assert reply.headers["Deprecation"] == "true"
    (_, request) = api.dispatcher.submitted[-1]
    assert (request.start_date, request.end_date) == (
        clinic_today() + timedelta(days=1),
        clinic_today() + timedelta(days=2),
    )


def test_the_new_shapes_carry_no_deprecation_header(api: Api) -> None:
    reply = api.post_async("/api/sync/inbound", {"dateRange": {"start": days(0), "end": days(1)}})
    assert reply.status == 202
    assert "Deprecation" not in reply.headers


def test_a_deprecated_shape_is_logged_once_per_key_and_shape(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    _, other_key = api.new_key()
    clinic = str(api.clinic_id)
    with caplog.at_level(logging.WARNING, logger="pims_sync.http"):
        for key in (api.key, api.key, other_key, other_key):
            api.post_async("/api/sync/reconciliation", {"clinicId": clinic}, key=key)
            api.post_async("/api/sync/full", {"slotDurationMinutes": 15}, key=key)
            for sync_id in [r.id for r in api.store.syncs.active(api.clinic_id)]:
                api.dispatcher.run_to_end(sync_id)
    lines = [r for r in caplog.records if r.getMessage().startswith("deprecated request shape")]
    shapes = sorted((str(getattr(r, "key_id", "")), str(getattr(r, "shape", ""))) for r in lines)
    assert len(shapes) == len(set(shapes)) == 6  # 2 keys × (clinicId, /full, ignored field)
    assert {shape for _, shape in shapes} == {
        "clinicId",
        "/api/sync/full",
        "slotDurationMinutes (ignored)",
    }


@pytest.mark.parametrize(
    "path",
    [
        "/api/sync/outbound/cases",
        "/api/sync/everything",
        f"/api/sync/inbound/{uuid.uuid4()}",
        f"/api/sync/cases/{uuid.uuid4()}/stream",
        "/api/sync/",
    ],
)
def test_any_post_under_api_sync_that_is_no_trigger_is_404_before_405_and_401(
    api: Api, path: str
) -> None:
    reply = api.client.request("POST", path, headers={"X-API-Key": "nope"})
    assert reply.status == 404, reply.text
    assert reply.json()["error"]["code"] == "not_found"
    assert "Allow" not in reply.headers
