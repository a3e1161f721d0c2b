"""ezyVet text values lose what no database stores: NUL characters and halves of surrogate
pairs (see ``tests/sync/test_unstorable_text.py`` for what they did to a sync)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from providers.ezyvet import payloads, values


def test_text_drops_nul_characters() -> None:
    assert values.text({"notes": "Ate\x00 a sock\x00"}, "notes", "assessment 1") == "Ate a sock"
    assert values.text({"notes": "\x00"}, "notes", "assessment 1") is None


def test_text_replaces_half_a_surrogate_pair_and_keeps_whole_ones() -> None:
    raw = {"notes": "Good boy \ud83d\ude00 \ud83d"}
    assert values.text(raw, "notes", "assessment 1") == "Good boy \U0001f600 \ufffd"


def test_a_consultation_note_with_a_nul_is_read_without_it() -> None:
    consult = {"id": "7", "active": "1", "date": "1772697600", "description": "Vomit\x00ing"}
    assessment = {"id": "1", "consult_id": "7", "active": "1", "notes": "Rest\x00", "timestamp": 1}
    consultation = payloads.parse_consultation(
        consult, [assessment], [], [], ZoneInfo("UTC"), payloads.Lookups(), {}
    )
    assert (consultation.reason, consultation.notes) == ("Vomiting", "Rest")
