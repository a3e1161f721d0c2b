"""Contract §3.4 and §3.5: health, readiness, metrics, the OpenAPI document, request ids, 500s."""

from __future__ import annotations

import logging
import re
import uuid

import pytest
import schemathesis

from daemon import __version__
from daemon.config import default_replica_id
from daemon.http.dispatch import ReadinessCheck
from daemon.http.openapi import document
from tests.http.conftest import Api


def test_health(api: Api) -> None:
    reply = api.client.request("GET", "/health")
    assert reply.status == 200
    body = reply.json()
    assert body["status"] == "ok"
    assert body["version"] == __version__
    assert body["uptimeSeconds"] >= 0
    assert body["memory"]["rssBytes"] > 1024 * 1024  # a Python process is never this small
    assert body["memory"]["browserPssBytes"] == 12345
    assert (body["clinics"], body["runningSyncs"]) == (2, 1)
    assert body["scheduler"] == {"enabled": True, "jobs": 3}
    assert body["standIn"] is True  # the daemon's extra facts ride along


def test_health_names_the_replica_without_leases_too(api: Api) -> None:
    """Contract §7: ``/health`` carries ``replicaId`` (the process's ``REPLICA_ID``), also on
    SQLite, where no lease loop adds it; ``clinicsHeld`` stays a lease fact."""
    body = api.client.request("GET", "/health").json()
    assert body["replicaId"] == default_replica_id({})
    assert "clinicsHeld" not in body
    assert "replicaId" in document(__version__)["components"]["schemas"]["Health"]["required"]


def test_health_needs_no_key_and_ignores_a_bad_one(api: Api) -> None:
    assert api.client.request("GET", "/health", headers={"X-API-Key": "junk"}).status == 200


def test_ready_200_when_every_check_passes(api: Api) -> None:
    reply = api.client.request("GET", "/ready")
    assert reply.status == 200
    assert reply.json() == {
        "ready": True,
        "checks": [{"name": "database", "ok": True, "message": "answers"}],
    }


def test_ready_503_when_a_check_fails(api: Api) -> None:
    api.dispatcher.checks.append(ReadinessCheck("browser_pool", False, "chromium not found"))
    reply = api.client.request("GET", "/ready")
    assert reply.status == 503
    assert reply.json()["ready"] is False
    assert {"name": "browser_pool", "ok": False, "message": "chromium not found"} in reply.json()[
        "checks"
    ]


def test_ready_503_when_the_checks_cannot_run(api: Api) -> None:
    api.dispatcher.readiness_error = RuntimeError("database gone")
    reply = api.client.request("GET", "/ready")
    assert reply.status == 503
    assert reply.json()["checks"][0]["ok"] is False


def test_ready_503_while_draining(api: Api) -> None:
    api.dispatcher.draining = True
    reply = api.client.request("GET", "/ready")
    assert reply.status == 503
    assert any(check["name"] == "draining" for check in reply.json()["checks"])
    assert api.client.request("GET", "/health").status == 200  # alive all the same


def test_metrics_count_requests_by_route_pattern(api: Api) -> None:
    sync_id = uuid.uuid4()
    api.get(f"/api/sync/inbound/{sync_id}")
    api.client.request("GET", f"/no/such/{sync_id}")
    reply = api.client.request("GET", "/metrics")
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("text/plain")
    text = reply.text
    assert re.search(
        r'pims_sync_http_requests_total\{route="/api/sync/\{type\}/\{syncId\}",status="404"\} '
        r"[1-9]",
        text,
    )
    assert 'route="unmatched",status="404"' in text
    assert str(sync_id) not in text  # never a raw path: one series per id would explode
    assert "pims_sync_syncs_total" in text


def test_openapi_document_is_valid_and_matches_the_routes(api: Api) -> None:
    reply = api.client.request("GET", "/openapi.json")
    assert reply.status == 200
    served = reply.json()
    assert served == document(__version__)
    schemathesis.openapi.from_dict(served).validate()  # against the OpenAPI 3.1 meta-schema
    documented = {
        (method.upper(), path) for path, item in served["paths"].items() for method in item
    }
    routed = set()
    for route in api.server.app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or re.sub(r"\{(\w+):[^}]*\}", r"{\1}", info.get("formatter", ""))
        routed.add((route.method, path))
    assert documented == routed


def test_every_response_has_a_request_id_and_a_sane_one_is_kept(api: Api) -> None:
    mine = api.client.request("GET", "/health", headers={"X-Request-Id": "abc-123.4:x"})
    assert mine.headers["X-Request-Id"] == "abc-123.4:x"
    for bad in ("", "a b", "x" * 200, "<script>"):
        reply = api.client.request("GET", "/ready", headers={"X-Request-Id": bad})
        assert str(uuid.UUID(reply.headers["X-Request-Id"])) == reply.headers["X-Request-Id"]
    # The client checks X-Request-Id on every reply of every test; errors too:
    assert api.client.request("GET", "/api/nope").headers["X-Request-Id"]


def test_a_500_shows_no_stack_or_secret_and_its_log_line_has_the_request_id(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "pims_sk_" + "S" * 40
    api.dispatcher.schedules_error = RuntimeError(f"boom with {secret} and password=hunter2")
    with caplog.at_level(logging.ERROR, logger="pims_sync.http"):
        reply = api.get("/api/schedules")
    assert reply.status == 500
    body = reply.json()
    assert body["success"] is False and body["error"]["code"] == "internal"
    for leak in (secret, "hunter2", "boom", "Traceback", "RuntimeError", 'File "'):
        assert leak not in reply.text
    request_id = reply.headers["X-Request-Id"]
    assert request_id in body["error"]["message"]
    lines = [r for r in caplog.records if getattr(r, "request_id", None) == request_id]
    assert lines and lines[0].levelno == logging.ERROR
