"""Reading a trigger's body: size (413), media type (415) and JSON syntax (400), in that order.

An empty body, with or without a JSON content type, means "all defaults"; a non-empty body must
be declared JSON (contract §3.2).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from daemon.http.errors import ApiError, FieldError
from daemon.http.state import MAX_BODY_BYTES, state_of


def _too_large() -> ApiError:
    return ApiError(413, f"the request body is larger than {MAX_BODY_BYTES // 1024} KiB")


def _incomplete(reason: str) -> ApiError:
    # The rest of the body may still be on its way: the connection cannot serve another request.
    return ApiError(
        400,
        f"the request body {reason}",
        details=[FieldError("body", reason)],
        close=True,
    )


async def read_body(request: web.Request) -> bytes:
    """The whole body, within ``body_timeout_s``. A client that stops sending, or leaves
    part-way, is a 400 (a client's fault, not a 500 with a traceback)."""
    # A declared length past the limit is refused before a byte is read.
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise _too_large()
    timeout_s = state_of(request).tuning.body_timeout_s
    try:
        async with asyncio.timeout(timeout_s):
            # The application's client_max_size bounds chunked bodies.
            return await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise _too_large() from None
    except TimeoutError:
        raise _incomplete(f"did not arrive within {timeout_s:g} s") from None
    except (ConnectionResetError, HttpProcessingError):
        # Gone mid-body, or a chunked body that broke off: nobody may be left to answer.
        raise _incomplete("ended before its declared length") from None


def is_json_media_type(content_type: str) -> bool:
    main = content_type.split(";", 1)[0].strip().lower()
    return main == "application/json" or (
        main.startswith("application/") and main.endswith("+json")
    )


def _reject_constant(name: str) -> Any:
    # Python's json accepts NaN and Infinity, which JSON does not.
    raise ValueError(f"{name} is not valid JSON")


def parse_json_object(request: web.Request, raw: bytes) -> dict[str, Any]:
    """The body as a JSON object; ``{}`` for an empty body."""
    if not raw.strip():
        return {}
    if not is_json_media_type(request.headers.get("Content-Type", "")):
        raise ApiError(415, "a request body must be JSON (Content-Type: application/json)")
    try:
        value = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        reason = "is not UTF-8" if isinstance(exc, UnicodeDecodeError) else "is not valid JSON"
        raise ApiError(
            400, f"the request body {reason}", details=[FieldError("body", f"the body {reason}")]
        ) from None
    if not isinstance(value, dict):
        raise ApiError(
            400,
            "the request body must be a JSON object",
            details=[FieldError("body", "must be a JSON object")],
        )
    return value
