"""ezyVet text values lose any NUL character (PostgreSQL refuses it in text and JSON; see
``tests/sync/test_nul_characters.py`` for what it did to a sync)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from providers.ezyvet import payloads, values


def test_text_drops_nul_characters() -> None:
    assert values.text({"notes": "Ate\x00 a sock\x00"}, "notes", "assessment 1") == "Ate a sock"
    assert values.text({"notes": "\x00"}, "notes", "assessment 1") is None


def test_a_consultation_note_with_a_nul_is_read_without_it() -> None:
    consult = {"id": "7", "active": "1", "date": "1772697600", "description": "Vomit\x00ing"}
    assessment = {"id": "1", "consult_id": "7", "active": "1", "notes": "Rest\x00", "timestamp": 1}
    consultation = payloads.parse_consultation(
        consult, [assessment], [], [], ZoneInfo("UTC"), payloads.Lookups(), {}
    )
    assert (consultation.reason, consultation.notes) == ("Vomiting", "Rest")
