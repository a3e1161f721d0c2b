"""Contract §3.2/§3.3 and issue 12: waiting triggers and streams are woken by the sync's change.

The re-read interval is set far beyond the test's deadline, so an answer within the deadline
can only come from the wake-up (``daemon.sync.watch``), never from polling.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace

from tests.http.client import Event, Stream
from tests.http.conftest import FAST, Api

NEVER = 600.0  # seconds: longer than any deadline below


def test_a_waiting_trigger_is_woken_when_its_sync_ends(make_api: Callable[..., Api]) -> None:
    api = make_api(tuning=replace(FAST, wait_poll_s=NEVER))
    pending = api.client.start("POST", "/api/sync/reconciliation", headers=api.auth())
    queued = api.wait_queued("reconciliation")
    api.dispatcher.run_to_end(queued.id)
    reply = pending.result(20)
    assert reply.status == 200
    assert reply.json()["syncId"] == str(queued.id)
    assert reply.json()["status"] == "completed"


def test_full_waits_for_each_part_woken_in_turn(make_api: Callable[..., Api]) -> None:
    api = make_api(tuning=replace(FAST, wait_poll_s=NEVER))
    pending = api.client.start("POST", "/api/sync/full", headers=api.auth())
    for part in ("inbound", "cases", "reconciliation"):
        api.dispatcher.run_to_end(api.wait_queued(part).id)
    reply = pending.result(20)
    assert reply.status == 200, reply.text
    assert reply.json()["status"] == "completed"


def next_progress(stream: Stream) -> Event:
    event = stream.next_named(timeout_s=20)
    assert event is not None
    return event


def test_the_stream_shows_each_change_of_processed_and_ends_at_once(
    make_api: Callable[..., Api],
) -> None:
    # Progress at most every 0.1 s here; the final event must not wait for any interval.
    api = make_api(tuning=replace(FAST, stream_poll_s=0.1, wait_poll_s=NEVER))
    sync_id = uuid.UUID(api.post_async("/api/sync/cases").json()["syncId"])
    stream = api.client.stream(f"/api/sync/cases/{sync_id}/stream", api.auth())
    assert next_progress(stream).data["status"] == "queued"
    api.store.syncs.start(sync_id)
    seen: list[int] = []
    for processed in range(1, 6):
        api.store.syncs.progress(sync_id, total=5, processed=processed)
        while not seen or seen[-1] != processed:
            event = next_progress(stream)
            assert event.name == "progress"
            seen.append(event.data["progress"]["processed"])
    assert {1, 2, 3, 4, 5} <= set(seen)  # every step shown, none skipped
    slow = make_api(tuning=replace(FAST, stream_poll_s=NEVER, wait_poll_s=NEVER))
    other = uuid.UUID(slow.post_async("/api/sync/inbound").json()["syncId"])
    late = slow.client.stream(f"/api/sync/inbound/{other}/stream", slow.auth())
    assert next_progress(late).name == "progress"
    slow.dispatcher.run_to_end(other)
    final = next_progress(late)
    assert final.name == "completed"
