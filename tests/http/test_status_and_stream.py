"""Contract §3.3: the status object, the SSE stream and the schedules, all read from the DB."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace

import pytest

from daemon.store.clinics import ScheduleEntry
from tests.http.client import Event, Stream
from tests.http.conftest import FAST, Api
from tests.observability.polling import wait_until


def queue(api: Api, sync_type: str = "inbound") -> uuid.UUID:
    return uuid.UUID(api.post_async(f"/api/sync/{sync_type}").json()["syncId"])


def test_status_of_a_queued_running_and_finished_sync(api: Api) -> None:
    sync_id = queue(api, "cases")
    path = f"/api/sync/cases/{sync_id}"
    queued = api.get(path).json()
    assert queued == {
        "syncId": str(sync_id),
        "type": "cases",
        "status": "queued",
        "trigger": "api",
        "progress": {"total": 0, "processed": 0, "percentage": 0},
        "stats": {},
        "startedAt": None,
        "completedAt": None,
        "durationMs": None,
        "errors": [],
    }
    api.store.syncs.start(sync_id)
    api.store.syncs.progress(sync_id, total=8, processed=2)
    running = api.get(path).json()
    assert running["status"] == "running"
    assert running["progress"] == {"total": 8, "processed": 2, "percentage": 25}
    assert running["startedAt"].endswith("Z")
    api.store.syncs.finish(
        sync_id,
        status="partial",
        stats={"total": 8},
        errors=[{"code": "pims_bad_payload", "message": "m", "itemId": "7"}],
        error_code="pims_bad_payload",
        total=8,
        processed=8,
    )
    done = api.get(path).json()
    assert done["status"] == "partial"
    assert done["errors"] == [{"code": "pims_bad_payload", "message": "m", "itemId": "7"}]
    assert done["completedAt"].endswith("Z") and isinstance(done["durationMs"], int)


def test_a_sync_started_elsewhere_is_visible(api: Api) -> None:
    record = api.store.syncs.enqueue(api.clinic_id, "reconciliation", "cli")
    reply = api.get(f"/api/sync/reconciliation/{record.id}")
    assert reply.status == 200
    assert reply.json()["trigger"] == "cli"
    assert api.get(f"/api/sync/reconcile/{record.id}").status == 200  # the alias reads too


@pytest.mark.parametrize("suffix", ["", "/stream"])
def test_unknown_malformed_or_other_type_sync_is_404(api: Api, suffix: str) -> None:
    sync_id = queue(api, "inbound")
    for path in (
        f"/api/sync/inbound/{uuid.uuid4()}",
        "/api/sync/inbound/12345",
        "/api/sync/inbound/%27%20OR%201=1",
        f"/api/sync/cases/{sync_id}",
    ):
        reply = api.get(path + suffix)
        assert reply.status == 404, path
        assert reply.json()["error"]["code"] == "not_found"
    assert api.get(f"/api/sync/inbound/{str(sync_id).upper()}").status == 200


def test_the_stream_follows_a_sync_to_its_final_event(api: Api) -> None:
    sync_id = queue(api, "cases")
    stream = api.client.stream(f"/api/sync/cases/{sync_id}/stream", api.auth())
    assert stream.status.result(10) == 200
    headers = stream.headers.result(10)
    assert headers["Content-Type"].startswith("text/event-stream")
    assert headers["Cache-Control"] == "no-cache"
    assert headers["X-Request-Id"]
    first = stream.next_named()
    assert first is not None and first.name == "progress"
    assert first.data["status"] == "queued"
    api.store.syncs.start(sync_id)
    api.store.syncs.progress(sync_id, total=4, processed=1)
    seen = wait_until(lambda: _progress_with(stream, processed=1), "progress 1/4 on the stream")
    assert seen is not None
    assert seen.data["progress"] == {"total": 4, "processed": 1, "percentage": 25}
    # Progress keeps coming while nothing changes (the contract: at least every 2 s).
    again = stream.next_named()
    assert again is not None and again.name == "progress"
    api.store.syncs.finish(
        sync_id, status="failed", stats={}, errors=[], error_code="pims_auth_failed"
    )
    rest = [event for event in stream.rest() if event.name != ":comment"]
    assert rest[-1].name == "failed"
    assert rest[-1].data["status"] == "failed" and rest[-1].data["syncId"] == str(sync_id)
    assert all(event.name == "progress" for event in rest[:-1])
    stream.done.result(10)  # the server closed the stream


def _progress_with(stream: Stream, processed: int) -> Event | None:
    event = stream.next_named()
    if event is not None and event.data["progress"]["processed"] == processed:
        return event
    return None


def test_a_stream_opened_after_the_end_gets_the_final_event_at_once(api: Api) -> None:
    sync_id = queue(api, "inbound")
    api.dispatcher.run_to_end(sync_id, "completed")
    stream = api.client.stream(f"/api/sync/inbound/{sync_id}/stream", api.auth())
    events = stream.rest()
    assert [event.name for event in events] == ["completed"]
    assert events[0].data["progress"]["percentage"] == 100


def test_the_stream_sends_keep_alive_comments(make_api: Callable[..., Api]) -> None:
    api = make_api(tuning=replace(FAST, stream_poll_s=30.0, keepalive_s=0.1))
    sync_id = queue(api, "inbound")
    stream = api.client.stream(f"/api/sync/inbound/{sync_id}/stream", api.auth())
    first = stream.next()
    assert first is not None and first.name == "progress"
    comment = stream.next()
    assert comment is not None and comment.name == ":comment"
    assert comment.data == ": keep-alive"


def test_stopping_the_server_ends_open_streams(api: Api) -> None:
    sync_id = queue(api, "inbound")
    stream = api.client.stream(f"/api/sync/inbound/{sync_id}/stream", api.auth())
    assert stream.next_named() is not None
    api.server.stop()
    events = stream.rest()
    assert all(event.name in ("progress", ":comment") for event in events)


def test_schedules_lists_the_keys_clinic_only(api: Api) -> None:
    assert api.get("/api/schedules").json() == {"schedules": []}
    api.store.clinics.set_schedule(api.clinic_id, ScheduleEntry("cases", "0 * * * *"))
    api.store.clinics.set_schedule(
        api.clinic_id, ScheduleEntry("inbound", "*/15 * * * *", enabled=False)
    )
    other = api.new_clinic()
    api.store.clinics.set_schedule(other, ScheduleEntry("reconciliation", "0 3 * * *"))
    body = api.get("/api/schedules").json()
    assert [(entry["type"], entry["cron"], entry["enabled"]) for entry in body["schedules"]] == [
        ("inbound", "*/15 * * * *", False),
        ("cases", "0 * * * *", True),
    ]
    assert all(entry["lastRun"] is None for entry in body["schedules"])
