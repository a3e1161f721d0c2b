"""The one cleaning of PIMS text that both providers' readers share."""

from __future__ import annotations

import pytest

from providers.text import storable


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("Ate a sock", "Ate a sock"),
        ("Ate\x00 a sock\x00", "Ate a sock"),
        ("Good boy \ud83d\ude00", "Good boy \U0001f600"),  # a whole pair, as JSON decodes it
        ("cut \ud83d", "cut \ufffd"),
        ("\ude00 lone low half", "\ufffd lone low half"),
        ("\x00\ud83d", "\ufffd"),
    ],
)
def test_storable_keeps_what_a_database_stores(raw: str, stored: str) -> None:
    cleaned = storable(raw)
    assert cleaned == stored
    cleaned.encode("utf-8")  # every database's encoding takes it
