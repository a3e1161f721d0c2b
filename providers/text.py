"""Text from a PIMS made storable: what one database keeps and another refuses must not fail
a whole write batch on one of them.

Every PIMS text reader passes its strings through :func:`storable`.
"""

from __future__ import annotations

NUL = "\x00"


def storable(text: str) -> str:
    """``text`` without what no database can store: NUL characters (PostgreSQL refuses them in
    text and JSON; SQLite keeps them, so one pasted into a note failed the whole write batch on
    PostgreSQL only) and halves of UTF-16 surrogate pairs (an emoji cut in two by a JavaScript
    substring and sent escaped in valid JSON; no UTF-8 encoder takes one, so a single such name
    failed the whole calendar write), which become U+FFFD."""
    if NUL in text:
        text = text.replace(NUL, "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text
