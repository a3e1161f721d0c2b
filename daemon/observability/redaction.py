"""Masking secrets before anything is written or shipped.

Two nets: values under sensitive keys (``extra`` fields, nested dicts, lists, dataclasses) and
secret-looking patterns in free text (messages, exception text, string values). The old system
printed decrypted company ids and usernames in its logs; both count as sensitive here.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import re
import uuid
from collections.abc import Mapping
from typing import Any, Final

from daemon.observability.context import RECORD_ATTRS

MASK: Final = "[REDACTED]"

# A key is sensitive when one of its words is one of these ("neo_session", "X-Api-Key" ...).
_SENSITIVE_WORDS: Final = frozenset(
    {
        "password", "passwd", "pwd", "passphrase", "secret", "secrets", "token", "tokens",
        "authorization", "auth", "cookie", "cookies", "session", "sessions", "sid", "csrf",
        "xsrf", "credential", "credentials", "username",
    }
)  # fmt: skip
# ... or when its letters, run together, contain one of these ("apiKey", "PHPSESSID").
_SENSITIVE_FRAGMENTS: Final = (
    "apikey", "password", "passwd", "secret", "setcookie", "sessid", "sessionid",
    "privatekey", "encryptionkey", "signingkey", "accesskey", "companyid",
)  # fmt: skip
# Values that say nothing about a secret; masking them would only hide useful facts.
_HARMLESS_TEXT: Final = frozenset({"true", "false", "none", "null", "", MASK.lower()})

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def is_sensitive_key(key: str) -> bool:
    """True for names whose values must never be logged (``password``, ``x-api-key`` ...)."""
    words = [w for w in _NON_ALNUM.split(_CAMEL_BOUNDARY.sub("_", key).lower()) if w]
    if any(word in _SENSITIVE_WORDS for word in words):
        return True
    joined = "".join(words)
    return any(fragment in joined for fragment in _SENSITIVE_FRAGMENTS)


# --- free text --------------------------------------------------------------------------------

_API_KEY = re.compile(r"\bpims_sk_[A-Za-z0-9]{8,}")
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]{4,}")
# Header lines whose whole value is secret, up to the end of the line.
_HEADER_LINE = re.compile(
    r"(?im)\b((?:proxy-)?authorization|set-cookie|cookie|x-api-key)([ \t]*:[ \t]*)(?=[^\s\[])"
    r"[^\r\n]+"
)
# key: 'value' / "key"="value" / key='value' (dict reprs, JSON, dataclass reprs).
_QUOTED_PAIR = re.compile(
    r"""(?P<kq>["']?)(?P<key>[A-Za-z_][\w.-]{0,63})(?P=kq)(?P<sep>\s*[:=]\s*)"""
    r"""(?P<bp>[bB]?)(?P<vq>["'])(?P<val>(?:\\.|(?!(?P=vq))[^\\\r\n])*)(?P=vq)"""
)
# key=value (query strings, cookie pairs) and key: value (prose).
_BARE_PAIR = re.compile(
    r"""(?P<key>\b[A-Za-z_][\w.-]{0,63})(?P<sep>=|:[ \t]*)(?P<val>[^\s&;,'"<>{}\[\]()]+)"""
)
# scheme://user:password@host. The user name may be empty (``redis://:pw@host``) and the
# password may hold ``/`` or an unescaped ``@`` (SQLAlchemy parses both), so it runs to the
# last ``@`` before a space or a quote; masking a little too much beats showing a password.
_URL_PASSWORD = re.compile(r"""(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@'"]*:)([^\s'"<>]+)@""")


def _mask_quoted(match: re.Match[str]) -> str:
    if not is_sensitive_key(match["key"]) or match["val"].lower() in _HARMLESS_TEXT:
        return match[0]
    quote = match["vq"]
    return (
        f"{match['kq']}{match['key']}{match['kq']}{match['sep']}{match['bp']}{quote}{MASK}{quote}"
    )


def _mask_bare(match: re.Match[str]) -> str:
    if not is_sensitive_key(match["key"]):
        # The value may itself hold a pair: "failed: password=x", "url: /login?token=x".
        return f"{match['key']}{match['sep']}{_BARE_PAIR.sub(_mask_bare, match['val'])}"
    if match["val"].lower() in _HARMLESS_TEXT:
        return match[0]
    return f"{match['key']}{match['sep']}{MASK}"


def redact_text(text: str) -> str:
    """Mask secret-looking parts of free text; applying it twice changes nothing more."""
    text = _API_KEY.sub(f"pims_sk_{MASK}", text)
    text = _URL_PASSWORD.sub(rf"\g<1>{MASK}@", text)
    text = _QUOTED_PAIR.sub(_mask_quoted, text)
    text = _HEADER_LINE.sub(rf"\g<1>\g<2>{MASK}", text)
    text = _BEARER.sub(rf"\g<1> {MASK}", text)
    return _BARE_PAIR.sub(_mask_bare, text)


# --- structured values ------------------------------------------------------------------------

# Values whose text can hold no secret; kept as they are so formatters render them natively.
_PLAIN: Final = (bool, int, float, datetime.date, datetime.time, datetime.timedelta, uuid.UUID)


def _mask_value(value: Any) -> Any:
    # Booleans and nulls reveal nothing ("session_reused": true stays useful).
    return value if value is None or isinstance(value, bool) else MASK


def redact(value: Any) -> Any:
    """A copy of ``value`` with secrets masked: strings by pattern, mappings by key.

    Lists, tuples and sets are walked, dataclass instances become masked dicts (their repr
    would otherwise print every field), bytes are treated as text. Numbers, times and UUIDs
    pass as they are; any other object (an exception, a ``yarl.URL``, a path ...) becomes its
    masked text, since a formatter would print that text unmasked. The input is never modified.
    """
    if value is None or isinstance(value, _PLAIN):
        return value
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, bytes | bytearray):
        return redact_text(bytes(value).decode("utf-8", "replace"))
    if isinstance(value, Mapping):
        return {
            key: _mask_value(item) if is_sensitive_key(str(key)) else redact(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [redact(item) for item in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        return redact(fields)
    if isinstance(value, BaseException):
        return redact_text(f"{type(value).__name__}: {value}")
    return redact_text(str(value))


# --- logging ----------------------------------------------------------------------------------


class RedactionFilter(logging.Filter):
    """Masks a record in place, before any formatter or shipper sees it.

    The message is rendered once (``msg % args``) and replaced by its masked text, the
    exception and stack text are rendered and masked, and every ``extra`` field is masked by
    key and content. Records pass through (it never drops one) and a second pass is harmless.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_pims_redacted", False):
            return True
        if isinstance(record.msg, Mapping):
            record.msg = redact(record.msg)
        else:
            try:
                rendered = record.getMessage()
            except Exception:  # a bad format string must not lose the line
                rendered = f"{record.msg!s} {record.args!r}"
            record.msg, record.args = redact_text(rendered), None
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.exc_info = None  # keep only the masked text, so no formatter re-renders it
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        for key in [k for k in record.__dict__ if k not in RECORD_ATTRS]:
            value = record.__dict__[key]
            record.__dict__[key] = _mask_value(value) if is_sensitive_key(key) else redact(value)
        record._pims_redacted = True
        return True
