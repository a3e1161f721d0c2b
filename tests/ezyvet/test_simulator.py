"""The ezyVet simulator itself: the token endpoint, paging, filters, faults, rate limits, CLI."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from providers.ezyvet.simulator import EzyVetSimulator, FaultError
from tests.ezyvet.conftest import TODAY, ZONE, run

REPO = Path(__file__).resolve().parents[2]

Answer = tuple[int, Any, dict[str, str]]


async def _call(
    method: str, url: str, *, token: str | None = None, body: Any = None, params: Any = None
) -> Answer:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, url, headers=headers, json=body, params=params) as response,
    ):
        text = await response.text()
        data = json.loads(text) if text else None
        return response.status, data, {k.lower(): v for k, v in response.headers.items()}


def token_for(sim: EzyVetSimulator) -> str:
    body = {
        "partner_id": "demo-partner",
        "client_id": "demo-client",
        "client_secret": "demo-secret",
        "grant_type": "client_credentials",
        "scope": "read-appointment",
    }
    status, data, _ = run(_call("POST", f"{sim.url}/v1/oauth/access_token", body=body))
    assert status == 200 and data["token_type"] == "Bearer"
    return str(data["access_token"])


def get(sim: EzyVetSimulator, path: str, token: str | None, **params: Any) -> Answer:
    encoded = {k: json.dumps(v) if isinstance(v, dict) else str(v) for k, v in params.items()}
    return run(_call("GET", f"{sim.url}{path}", token=token, params=encoded))


def test_tokens_wrong_secret_and_revocation(sim: EzyVetSimulator) -> None:
    bad = {"partner_id": "demo-partner", "client_id": "demo-client", "client_secret": "nope",
           "grant_type": "client_credentials"}  # fmt: skip
    status, data, _ = run(_call("POST", f"{sim.url}/v1/oauth/access_token", body=bad))
    assert status == 401 and data["messages"][0]["level"] == "error"
    status, _, _ = run(_call("POST", f"{sim.url}/v1/oauth/access_token", body={"x": 1}))
    assert status == 400
    first = token_for(sim)
    assert get(sim, "/v1/species", first)[0] == 200
    second = token_for(sim)  # a new token revokes the old one
    assert get(sim, "/v1/species", first)[0] == 401
    assert get(sim, "/v1/species", second)[0] == 200
    assert get(sim, "/v1/species", None)[0] == 401
    sim.set_faults(new_token_revokes_old=False)
    third = token_for(sim)
    assert get(sim, "/v1/species", second)[0] == 200 and get(sim, "/v1/species", third)[0] == 200
    sim.revoke_tokens()
    assert get(sim, "/v1/species", third)[0] == 401
    stats = sim.stats()
    assert stats["tokens_issued"] == 3 and stats["token_failures"] == 2


def test_paging_and_value_forms(sim: EzyVetSimulator) -> None:
    token = token_for(sim)
    status, page1, _ = get(sim, "/v1/contactdetail", token, limit=25, page=1)
    assert status == 200
    meta = page1["meta"]
    total = len(sim.dataset.records("contactdetail"))
    assert meta["items_page"] == "1" and meta["items_page_total"] == str(-(-total // 25))
    assert meta["items_total"] == str(total) and len(page1["items"]) == 25
    item = page1["items"][0]["contactdetail"]
    assert isinstance(item["id"], str) and item["active"] in ("1", "0")
    _, last, _ = get(sim, "/v1/contactdetail", token, limit=25, page=meta["items_page_total"])
    assert len(last["items"]) == total - 25 * (int(meta["items_page_total"]) - 1)
    _, v2, _ = get(sim, "/v2/appointment", token, limit=5)
    appointment = v2["items"][0]["appointment"]
    assert isinstance(appointment["id"], int) and isinstance(appointment["active"], bool)
    assert isinstance(v2["meta"]["items_page_total"], int)
    assert get(sim, "/v1/species", token, limit=201)[0] == 400


def test_filters(sim: EzyVetSimulator) -> None:
    token = token_for(sim)
    records = sim.dataset.records("appointment")
    starts = sorted(r["start_at"] for r in records)
    low, high = starts[10], starts[40]

    def ids(resource: str, **filters: Any) -> set[int]:
        status, data, _ = get(
            sim,
            f"/v2/{resource}" if resource == "appointment" else f"/v1/{resource}",
            token,
            limit=200,
            **filters,
        )
        assert status == 200, data
        return {int(item[resource]["id"]) for item in data["items"]}

    assert ids("appointment", start_at={"gte": low, "lt": high}) == {
        r["id"] for r in records if low <= r["start_at"] < high
    }
    assert ids("appointment", start_at={"gt": low, "lte": high}) == {
        r["id"] for r in records if low < r["start_at"] <= high
    }
    assert ids("appointment", active={"eq": 0}) == {r["id"] for r in records if not r["active"]}
    assert ids("appointment", status_id={"neq": 1}) == {
        r["id"] for r in records if r["status_id"] != 1
    }
    assert ids("consult", id={"in": [60001, "60002", 1]}) == {60001, 60002}
    assert ids("species", name={"like": "%ine"}) == {1, 2}
    assert ids("species", name="Rabbit") == {3}
    assert get(sim, "/v1/species", token, colour={"eq": 1})[0] == 400
    assert get(sim, "/v1/species", token, id={"near": 1})[0] == 400
    assert get(sim, "/v1/species", token, id="{not json")[0] == 400


def test_faults_and_rate_limits(sim: EzyVetSimulator) -> None:
    token = token_for(sim)
    sim.set_faults(fail_next={"species": [503]}, empty=["breed"])
    assert get(sim, "/v1/species", token)[0] == 503
    assert get(sim, "/v1/species", token)[0] == 200
    status, data, _ = get(sim, "/v1/breed", token)
    assert status == 200 and data["items"] == []
    sim.set_faults(storm=1, storm_reset_s=3)
    status, _, headers = get(sim, "/v1/species", token)
    assert status == 429 and headers["x-ratelimit-reset"] == "3"
    sim.set_faults(rate_limit_per_window=2, rate_window_s=60)
    answers = [get(sim, "/v1/resource", token) for _ in range(3)]
    assert [a[0] for a in answers] == [200, 200, 429]
    assert answers[1][2]["x-ratelimit-remaining"] == "0"
    assert 1 <= int(answers[2][2]["x-ratelimit-reset"]) <= 60
    stats = sim.stats()
    assert stats["rate_limited"] == 2 and stats["peak_per_window"]["resource"] == 2
    with pytest.raises(FaultError, match="latency_ms"):
        sim.set_faults(latency_ms=-1)
    with pytest.raises(FaultError, match="unknown knob"):
        sim.set_faults(nonsense=1)


def test_control_routes(sim: EzyVetSimulator) -> None:
    status, knobs, _ = run(_call("POST", f"{sim.url}/_sim/faults", body={"latency_ms": 5}))
    assert status == 200 and knobs["latency_ms"] == 5 and "client_secret" not in knobs
    assert run(_call("POST", f"{sim.url}/_sim/faults", body={"storm": -1}))[0] == 400
    status, info, _ = run(_call("GET", f"{sim.url}/_sim/info"))
    assert info["today"] == TODAY.isoformat() and info["timezone"] == ZONE
    record = {"id": 99, "name": "Ferret", "active": True}
    assert run(_call("POST", f"{sim.url}/_sim/records/species", body=record))[0] == 200
    assert any(r["id"] == 99 for r in sim.dataset.records("species"))
    assert run(_call("DELETE", f"{sim.url}/_sim/records/species/99"))[0] == 204
    assert run(_call("POST", f"{sim.url}/_sim/reset"))[0] == 200
    assert sim.get_faults()["latency_ms"] == 0


def test_cli_prints_json_and_stops_on_sigterm() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "daemon", "simulator", "--provider", "ezyvet", "--port", "0",
         "--today", TODAY.isoformat(), "--client-secret", "s3cret", "--json"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        announced = json.loads(process.stdout.readline())
        assert announced == {
            "url": announced["url"],
            "partnerId": "demo-partner",
            "clientId": "demo-client",
            "clientSecret": "s3cret",
        }
        assert announced["url"].startswith("http://127.0.0.1:")
        status, info, _ = run(_call("GET", f"{announced['url']}/_sim/info"))
        assert status == 200 and info["today"] == TODAY.isoformat()
        assert info["timezone"] == "Pacific/Auckland"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
        assert process.stdout.read() == ""
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_cli_refuses_a_bad_rate_limit() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "daemon", "simulator", "--provider", "ezyvet",
         "--rate-limit-per-min", "0"],
        cwd=REPO, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert completed.returncode == 2 and "--rate-limit-per-min" in completed.stderr
