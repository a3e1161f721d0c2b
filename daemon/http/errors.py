"""The one error shape of the API (contract §3.4) and the exception that carries it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from aiohttp import web

#: The error code of each status the API answers with.
CODES: Final[Mapping[int, str]] = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "sync_in_progress",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    500: "internal",
    503: "unavailable",
}


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str

    def as_json(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class ApiError(Exception):
    """Raised by a handler to answer with an error body; the middleware renders it."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        details: list[FieldError] | None = None,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
        close: bool = False,
    ) -> None:
        """``close``: end the connection after the answer (its request was not read whole)."""
        super().__init__(message)
        self.status = status
        self.code = code or CODES.get(status, "error")
        self.message = message
        self.details = details or []
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})
        self.close = close

    def response(self) -> web.Response:
        response = error_response(
            self.status, self.code, self.message, details=self.details,
            headers=self.headers, extra=self.extra,
        )  # fmt: skip
        if self.close:
            response.force_close()
        return response


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    details: list[FieldError] | None = None,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> web.Response:
    """``{success: false, error: {code, message, details?}, ...extra}``."""
    error: dict[str, Any] = {"code": code, "message": message}
    if details:
        error["details"] = [d.as_json() for d in details]
    body: dict[str, Any] = {"success": False, "error": error, **(extra or {})}
    return web.json_response(body, status=status, headers=dict(headers or {}))
