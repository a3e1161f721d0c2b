"""The one reading of a PIMS boolean that both providers' payload readers share."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from providers.booleans import parse_bool


@pytest.mark.parametrize("value", [True, 1, "1", "true", "TRUE", " True ", "yes", "Yes"])
def test_true(value: object) -> None:
    assert parse_bool(value) is True


@pytest.mark.parametrize("value", [False, 0, "0", "false", "False", "no", "NO", "", "  "])
def test_false(value: object) -> None:
    assert parse_bool(value) is False


@pytest.mark.parametrize(
    "value", [2, -1, 1.0, 0.0, "2", "y", "n", "on", "off", "maybe", None, [], {}, [True]]
)
def test_anything_else_is_refused(value: object) -> None:
    with pytest.raises(ValueError, match="not a boolean"):
        parse_bool(value)


def test_the_error_never_repeats_the_value() -> None:
    with pytest.raises(ValueError) as caught:
        parse_bool("Rex, Mrs Smith's dog")
    assert "Rex" not in str(caught.value) and str(caught.value) == "not a boolean (str)"


VALUES: list[object] = [True, False, 0, 1, "1", " TRUE ", "no", "", 2, 1.0, "y", [], {}]


@pytest.mark.parametrize("value", VALUES)
def test_both_providers_read_a_flag_as_parse_bool_does(value: object) -> None:
    from providers.base import UnexpectedPayload
    from providers.ezyvet import values
    from providers.idexx_neo import payloads

    readers: dict[str, Callable[[], bool]] = {
        "ezyVet": lambda: values.flag({"active": value}, "active", "appointment 7"),
        "IDEXX Neo": lambda: payloads._flag({"isBlock": value}, "is_block", "isBlock", where="e"),
    }
    try:
        expected: bool | None = parse_bool(value)
    except ValueError:
        expected = None
    for pims, read in readers.items():
        if expected is None:
            with pytest.raises(UnexpectedPayload, match="is not a boolean"):
                read()
        else:
            assert read() is expected, pims
