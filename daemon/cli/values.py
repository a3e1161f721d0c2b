"""Text the operator types or pipes in: names, usernames, ids, secrets and bounded integers.

Each rule names the field and what is wrong, never the value of a secret (contract §2.2:
exit 2). Control characters are refused everywhere: a NUL or an escape sequence in a stored
name breaks terminals, logs and the PIMS's own forms.
"""

from __future__ import annotations

import re
import unicodedata

from daemon.validation import InvalidValue

#: Longest accepted values; generous for real names and ids, far below anything abusive.
NAME_MAX = 200
ID_MAX = 256
SECRET_MAX = 1024
#: An integer as an operator types it: ASCII digits, optionally signed (no ``1_000``, ``0x10``
#: or other spellings Python's ``int`` would also take).
_INTEGER = re.compile(r"[+-]?[0-9]+", re.ASCII)
#: Longest bad value repeated in a message.
_SHOWN_MAX = 40


def _control_character(value: str) -> str | None:
    for char in value:
        if unicodedata.category(char) == "Cc":
            return f"U+{ord(char):04X}"
    return None


def _check_encoding(value: str, field: str) -> None:
    # Bytes that are not UTF-8 in an argument arrive as lone surrogates (PEP 383).
    if any(unicodedata.category(char) == "Cs" for char in value):
        raise InvalidValue(field, "must be valid UTF-8 text")


def text_value(value: str, field: str, *, max_length: int = NAME_MAX) -> str:
    """A name or an id: surrounding spaces removed, 1..max_length characters, no control
    characters."""
    _check_encoding(value, field)
    text = value.strip()
    if not text:
        raise InvalidValue(field, "must not be empty")
    if len(text) > max_length:
        raise InvalidValue(field, f"must be at most {max_length} characters (got {len(text)})")
    bad = _control_character(text)
    if bad is not None:
        raise InvalidValue(field, f"must not contain control characters (found {bad})")
    return text


def secret_value(value: str, field: str, *, max_length: int = SECRET_MAX) -> str:
    """A password or client secret, kept exactly as given (spaces may be part of it); the
    message never repeats it."""
    _check_encoding(value, field)
    if not value:
        raise InvalidValue(field, "the value read from standard input is empty")
    if len(value) > max_length:
        raise InvalidValue(field, f"must be at most {max_length} characters")
    bad = _control_character(value)
    if bad is not None:
        raise InvalidValue(field, f"must not contain control characters (found {bad})")
    return value


def stdin_text(raw: bytes, field: str) -> str:
    """Standard input as UTF-8 text with one trailing newline (``\\n`` or ``\\r\\n``)
    removed."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidValue(
            field, f"standard input is not valid UTF-8 (byte {exc.start} cannot be decoded)"
        ) from None
    if text.endswith("\n"):
        text = text[:-1]
        if text.endswith("\r"):
            text = text[:-1]
    return text


def integer_value(value: str, field: str, low: int, high: int) -> int:
    """A whole number from ``low`` to ``high``; the message names the flag and the range.

    Options take their value as text and are checked here rather than by argparse's
    ``type=int``, whose ``invalid int value: 'x'`` states neither the range nor the rule.
    """
    rule = f"must be an integer from {low} to {high}"
    text = value.strip()
    # Thousands of digits would make ``int`` itself refuse (or work hard); no bound is that long.
    if not _INTEGER.fullmatch(text) or len(text) > _SHOWN_MAX:
        shown = value if len(value) <= _SHOWN_MAX else value[:_SHOWN_MAX] + "…"
        raise InvalidValue(field, f"{rule} (got {shown!r})")
    number = int(text)
    if not low <= number <= high:
        raise InvalidValue(field, f"{rule} (got {number})")
    return number
