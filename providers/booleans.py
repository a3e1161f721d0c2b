"""Reading a boolean as a PIMS sends it: ``true``, ``1``, ``"1"``, ``"yes"``, ``"False"``, ``""``.

IDEXX Neo and ezyVet's ``/v1`` resources send flags as numbers or strings, ezyVet's ``/v2`` as
JSON booleans; every PIMS reader takes them all through :func:`parse_bool`. What an absent field
means (false, or true for ezyVet's ``active``) is for the caller to say, as is the error that
names the field.
"""

from __future__ import annotations

TRUE_WORDS = frozenset({"1", "true", "yes"})
# An empty string is how a form-backed PIMS sends an unticked box.
FALSE_WORDS = frozenset({"0", "false", "no", ""})


def parse_bool(value: object) -> bool:
    """``value`` as a boolean: a bool, the integer 0 or 1, or one of the words above (any case,
    surrounding blanks ignored).

    Anything else raises :class:`ValueError`, whose message never repeats the value (a payload
    may hold client data where a flag was expected).
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        folded = value.strip().lower()
        if folded in TRUE_WORDS:
            return True
        if folded in FALSE_WORDS:
            return False
    raise ValueError(f"not a boolean ({type(value).__name__})")
