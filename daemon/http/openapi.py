"""The OpenAPI 3.1 description of the API, served at ``GET /openapi.json``.

Written by hand from contract §3 (not generated from the handlers), then held to the server by
a schemathesis run in the tests: every status, header and body here is one the server sends.
The request bodies are the exception: they are generated from :mod:`daemon.http.schema`, the
same declarations the validator reads, so the two cannot drift. Cross-field rules (start ≤
end, at most 62 dates, the sane date window) cannot be said in JSON Schema; they are in the
descriptions.
"""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web

from daemon.http.schema import BODIES, FULL
from daemon.http.state import state_of

JSON: Final = "application/json"
SYNC_TYPES: Final = ("inbound", "cases", "reconciliation")
FINAL_STATUSES: Final = ["completed", "partial", "failed", "interrupted"]
STATUSES: Final = ["queued", "running", *FINAL_STATUSES]
SECURITY: Final[list[dict[str, list[str]]]] = [{"ApiKey": []}]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


_DATE: Final = {"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"}
_TIMESTAMP: Final = {"type": "string", "format": "date-time"}
_UUID: Final = {"type": "string", "format": "uuid"}
_COUNT: Final = {"type": "integer", "minimum": 0}
_REQUEST_ID: Final = {
    "description": "The request's id (the caller's, when sane, else a new UUID); in the logs too.",
    "required": True,
    "schema": {"type": "string", "minLength": 1},
}


def _object(
    properties: dict[str, Any], required: list[str] | None = None, closed: bool = True
) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    if closed:
        schema["additionalProperties"] = False
    return schema


SCHEMAS: Final[dict[str, Any]] = {
    "Error": _object(
        {
            "success": {"const": False},
            "error": _object(
                {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "details": {
                        "type": "array",
                        "items": _object(
                            {"field": {"type": "string"}, "message": {"type": "string"}},
                            ["field", "message"],
                        ),
                    },
                },
                ["code", "message"],
            ),
        },
        ["success", "error"],
        closed=False,
    ),
    "SyncInProgress": {
        "allOf": [
            _ref("Error"),
            {"type": "object", "properties": {"syncId": _UUID}, "required": ["syncId"]},
        ]
    },
    # The trigger bodies: generated from the declarations the validator uses (one source).
    **{body.component: body.json_schema() for body in BODIES.values()},
    "SyncError": _object(
        {
            "code": {"type": "string"},
            "message": {"type": "string"},
            "itemId": {"type": ["string", "integer", "null"]},
        },
        ["code", "message"],
        closed=False,
    ),
    "SyncResult": _object(
        {
            "success": {"type": "boolean", "description": "true only when status is completed"},
            "syncId": _UUID,
            "status": {"enum": FINAL_STATUSES},
            "stats": {"type": "object"},
            "durationMs": _nullable(_COUNT),
            "errors": {"type": "array", "items": _ref("SyncError")},
        },
        ["success", "syncId", "status", "stats", "durationMs", "errors"],
        closed=False,
    ),
    "SyncAccepted": _object(
        {
            "success": {"const": True},
            "syncId": _UUID,
            "status": {"enum": ["queued", "running"]},
            "statusUrl": {"type": "string"},
            "streamUrl": {"type": "string"},
        },
        ["success", "syncId", "status", "statusUrl", "streamUrl"],
        closed=False,
    ),
    "FullSyncResult": {
        "allOf": [
            _ref("SyncResult"),
            {
                "type": "object",
                "properties": {
                    "syncIds": _object(
                        {part: _nullable(_UUID) for part in SYNC_TYPES}, list(SYNC_TYPES)
                    ),
                    "results": {"type": "object"},
                },
                "required": ["syncIds", "results"],
            },
        ]
    },
    "FullSyncAccepted": {
        "allOf": [
            _ref("SyncAccepted"),
            {
                "type": "object",
                "properties": {
                    "syncIds": _object(
                        {part: _nullable(_UUID) for part in SYNC_TYPES}, list(SYNC_TYPES)
                    ),
                    "statusUrls": {"type": "object"},
                },
                "required": ["syncIds", "statusUrls"],
            },
        ]
    },
    "SyncStatus": _object(
        {
            "syncId": _UUID,
            "type": {"enum": list(SYNC_TYPES)},
            "status": {"enum": STATUSES},
            "trigger": {"enum": ["api", "schedule", "cli"]},
            "progress": _object(
                {
                    "total": _COUNT,
                    "processed": _COUNT,
                    "percentage": {"type": "integer", "minimum": 0, "maximum": 100},
                },
                ["total", "processed", "percentage"],
            ),
            "stats": {"type": "object"},
            "startedAt": _nullable(_TIMESTAMP),
            "completedAt": _nullable(_TIMESTAMP),
            "durationMs": _nullable(_COUNT),
            "errors": {"type": "array", "items": _ref("SyncError")},
        },
        [
            "syncId",
            "type",
            "status",
            "trigger",
            "progress",
            "stats",
            "startedAt",
            "completedAt",
            "durationMs",
            "errors",
        ],
        closed=False,
    ),
    # One event of the stream (OpenAPI 3.1 reads a text/event-stream schema per event).
    "SyncEvent": _object(
        {
            "event": {"enum": ["progress", *FINAL_STATUSES]},
            "data": {
                "type": "string",
                "contentMediaType": JSON,
                "contentSchema": _ref("SyncStatus"),
            },
        },
        ["event", "data"],
        closed=False,
    ),
    "Schedules": _object(
        {
            "schedules": {
                "type": "array",
                "items": _object(
                    {
                        "type": {"enum": list(SYNC_TYPES)},
                        "cron": {"type": "string"},
                        "enabled": {"type": "boolean"},
                        "nextRunAt": _nullable(_TIMESTAMP),
                        "lastRun": _nullable(
                            _object(
                                {
                                    "syncId": _UUID,
                                    "status": {"enum": STATUSES},
                                    "startedAt": _nullable(_TIMESTAMP),
                                },
                                ["syncId", "status", "startedAt"],
                                closed=False,
                            )
                        ),
                    },
                    ["type", "cron", "enabled", "nextRunAt", "lastRun"],
                    closed=False,
                ),
            }
        },
        ["schedules"],
    ),
    "Health": _object(
        {
            "status": {"const": "ok"},
            "version": {"type": "string"},
            "uptimeSeconds": {"type": "number", "minimum": 0},
            "memory": _object(
                {"rssBytes": _COUNT, "browserPssBytes": _COUNT},
                ["rssBytes", "browserPssBytes"],
                closed=False,
            ),
            "clinics": _COUNT,
            "runningSyncs": _COUNT,
            "scheduler": _object(
                {"enabled": {"type": "boolean"}, "jobs": _COUNT},
                ["enabled", "jobs"],
                closed=False,
            ),
            "replicaId": {"type": "string"},
        },
        [
            "status",
            "version",
            "uptimeSeconds",
            "memory",
            "clinics",
            "runningSyncs",
            "scheduler",
            "replicaId",
        ],
        closed=False,
    ),
    "Readiness": _object(
        {
            "ready": {"type": "boolean"},
            "checks": {
                "type": "array",
                "items": _object(
                    {
                        "name": {"type": "string"},
                        "ok": {"type": "boolean"},
                        "message": {"type": "string"},
                    },
                    ["name", "ok", "message"],
                ),
            },
        },
        ["ready", "checks"],
    ),
}

_ERROR_TEXT: Final = {
    400: "Invalid body: malformed JSON, wrong type, out-of-range value or unknown field "
    "(`details` names each field).",
    401: "Missing, malformed, unknown, revoked or expired API key.",
    403: "The key lacks the route's permission (`forbidden`) or its clinic is deactivated "
    "(`clinic_inactive`).",
    404: "No such sync for this key (malformed id, unknown, another type or another clinic).",
    409: "A sync of this type is queued or running; `syncId` is that one.",
    413: "The body is larger than 64 KiB.",
    415: "A non-empty body that is not JSON.",
    429: "More trigger requests than API_RATE_LIMIT_PER_MIN in a minute for this key.",
    500: "Unexpected error; the body names the request id, the log has the rest.",
    503: "Draining (shutting down), the clinic is not served yet, or the database cannot be "
    "reached (with Retry-After; a caller already waiting gets its syncId back).",
}


def _headers(extra: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"X-Request-Id": _REQUEST_ID, **(extra or {})}


def _json_response(
    description: str, schema: dict[str, Any], headers: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "description": description,
        "headers": _headers(headers),
        "content": {JSON: {"schema": schema}},
    }


def _error(status: int) -> dict[str, Any]:
    headers = None
    if status in (429, 503):
        headers = {
            "Retry-After": {
                "description": "Seconds to wait (429; 503 when the database is unreachable).",
                "required": status == 429,
                "schema": {"type": "integer", "minimum": 1},
            }
        }
    return _json_response(_ERROR_TEXT[status], _ref("Error"), headers)


def _errors(*statuses: int) -> dict[str, Any]:
    return {str(status): _error(status) for status in statuses}


_PREFER: Final = {
    "name": "Prefer",
    "in": "header",
    "required": False,
    "description": "`respond-async` answers 202 at once instead of waiting for the sync.",
    "schema": {"type": "string"},
}


_DEPRECATION_HEADER: Final = {
    "Deprecation": {
        "description": "`true` when the request used an old shape (contract §7).",
        "required": False,
        "schema": {"type": "string", "const": "true"},
    }
}


def _trigger(
    operation_id: str,
    sync_type: str,
    body_schema: str,
    summary: str,
    *,
    result: str = "SyncResult",
    accepted: str = "SyncAccepted",
    deprecated: bool = False,
) -> dict[str, Any]:
    link_params = {"type": sync_type, "syncId": "$response.body#/syncId"}
    links: dict[str, Any] = {
        "GetStatus": {"operationId": "getSyncStatus", "parameters": link_params},
        "StreamProgress": {"operationId": "streamSyncProgress", "parameters": link_params},
    }
    if deprecated:
        links = {}  # /full's first part depends on the body: no fixed type to link to
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "summary": summary,
        "security": SECURITY,
        "parameters": [_PREFER],
        "requestBody": {"required": False, "content": {JSON: {"schema": _ref(body_schema)}}},
        "responses": {
            "200": {
                **_json_response(
                    "The sync finished within SYNC_WAIT_MAX_S.",
                    _ref(result),
                    _DEPRECATION_HEADER,
                ),
                **({"links": links} if links else {}),
            },
            "202": {
                **_json_response(
                    "Still running at SYNC_WAIT_MAX_S, or `Prefer: respond-async`.",
                    _ref(accepted),
                    {
                        "Location": {
                            "description": "The status URL.",
                            "schema": {"type": "string"},
                        },
                        **_DEPRECATION_HEADER,
                    },
                ),
                **({"links": links} if links else {}),
            },
            "409": _json_response(
                "A sync of this type is queued or running; `syncId` is that one.",
                _ref("SyncInProgress"),
            ),
            **_errors(400, 401, 403, 413, 415, 429, 500, 503),
        },
    }
    if deprecated:
        operation["deprecated"] = True
    return {"post": operation}


def _probe(operation_id: str, summary: str, responses: dict[str, Any]) -> dict[str, Any]:
    """GET and HEAD (uptime monitors send HEAD): the same answer, HEAD without the body."""
    head = {
        code: {"description": answer["description"], "headers": answer.get("headers", {})}
        for code, answer in responses.items()
    }
    return {
        "get": {"operationId": operation_id, "summary": summary, "responses": responses},
        "head": {
            "operationId": f"{operation_id}Head",
            "summary": f"{summary} (headers only)",
            "responses": head,
        },
    }


_SYNC_PATH_PARAMS: Final = [
    {
        "name": "type",
        "in": "path",
        "required": True,
        "schema": {"enum": [*SYNC_TYPES, "reconcile"]},
    },
    {"name": "syncId", "in": "path", "required": True, "schema": _UUID},
]


def _paths() -> dict[str, Any]:
    return {
        "/api/sync/inbound": _trigger(
            "triggerInbound",
            "inbound",
            "InboundRequest",
            "Sync the schedule (appointments and slots).",
        ),
        "/api/sync/cases": _trigger(
            "triggerCases", "cases", "CasesRequest", "Ingest finalized cases."
        ),
        "/api/sync/reconciliation": _trigger(
            "triggerReconciliation",
            "reconciliation",
            "ReconciliationRequest",
            "Repair cases over the lookback window.",
        ),
        "/api/sync/reconcile": _trigger(
            "triggerReconcile",
            "reconciliation",
            "ReconciliationRequest",
            "Alias of /api/sync/reconciliation.",
        ),
        "/api/sync/full": _trigger(
            "triggerFull",
            "inbound",
            FULL.component,
            "Deprecated (the old service's /full): inbound, then cases, then reconciliation "
            "as one request; needs all three sync permissions; 409 when any part is active.",
            result="FullSyncResult",
            accepted="FullSyncAccepted",
            deprecated=True,
        ),
        "/api/sync/{type}/{syncId}": {
            "get": {
                "operationId": "getSyncStatus",
                "summary": "One sync's status, progress and result (needs sync:read).",
                "security": SECURITY,
                "parameters": _SYNC_PATH_PARAMS,
                "responses": {
                    "200": _json_response("The status object.", _ref("SyncStatus")),
                    **_errors(401, 403, 404, 500),
                },
            }
        },
        "/api/sync/{type}/{syncId}/stream": {
            "get": {
                "operationId": "streamSyncProgress",
                "summary": "Server-Sent Events: `progress` while it runs, then one event named "
                "after the final status; `: keep-alive` comments every 15 s.",
                "security": SECURITY,
                "parameters": _SYNC_PATH_PARAMS,
                "responses": {
                    "200": {
                        "description": "The event stream.",
                        "headers": _headers(),
                        "content": {"text/event-stream": {"schema": _ref("SyncEvent")}},
                    },
                    **_errors(401, 403, 404, 500),
                },
            }
        },
        "/api/schedules": {
            "get": {
                "operationId": "listSchedules",
                "summary": "The key's clinic's cron schedules and their last runs.",
                "security": SECURITY,
                "responses": {
                    "200": _json_response("The schedules.", _ref("Schedules")),
                    **_errors(401, 403, 500),
                },
            }
        },
        "/health": _probe(
            "health",
            "Liveness: 200 while the process serves.",
            {"200": _json_response("Alive.", _ref("Health")), **_errors(500)},
        ),
        "/ready": _probe(
            "ready",
            "Readiness: database, schema, scheduler, browser pool; 503 while draining.",
            {
                "200": _json_response("Ready.", _ref("Readiness")),
                "503": _json_response("Not ready (see the failing checks).", _ref("Readiness")),
                **_errors(500),
            },
        ),
        "/metrics": _probe(
            "metrics",
            "Prometheus text exposition.",
            {
                "200": {
                    "description": "Metrics.",
                    "headers": _headers(),
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                },
                **_errors(500),
            },
        ),
        "/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document.",
                "responses": {"200": _json_response("OpenAPI 3.1.", {"type": "object"})},
            }
        },
    }


def document(version: str) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "pims-sync",
            "version": version,
            "description": "Triggers, status and live progress of PIMS syncs for the clinic of "
            "the calling API key. Errors under /api/ are `{success: false, error: {code, "
            "message, details?}}`; every response carries X-Request-Id.",
        },
        "paths": _paths(),
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}},
        },
    }


async def openapi_json(request: web.Request) -> web.StreamResponse:
    return web.json_response(document(state_of(request).version))
