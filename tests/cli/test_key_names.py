"""``pims-sync key create --name`` gets the same rules as every other name."""

from __future__ import annotations

from tests.cli.conftest import Cli


def test_key_names_get_length_limits_and_no_control_characters(cli: Cli) -> None:
    added = cli("clinic", "add", "--name", "Alum Rock", "--json")
    assert added.code == 0, added.stderr
    clinic_id = added.json()["id"]
    create = ["key", "create", "--clinic", clinic_id, "--name"]
    cases = [
        ("front\x1b[2Jdesk", "--name: must not contain control characters (found U+001B)"),
        ("bell\x07", "--name: must not contain control characters (found U+0007)"),
        ("x" * 101, "--name: must be at most 100 characters (got 101)"),
        ("   ", "--name: must not be empty"),
        ("caf\udce9", "--name: must be valid UTF-8 text"),
    ]
    for name, message in cases:
        result = cli(*create, name)
        assert result.code == 2, (name, result.stderr)
        assert message in result.stderr, (name, result.stderr)
        assert result.stdout == "" and "Traceback" not in result.stderr
    assert cli("key", "list", "--clinic", clinic_id, "--json").json()["keys"] == []  # none stored

    longest = cli(*create, "  " + "k" * 100 + "  ", "--json")
    assert longest.code == 0, longest.stderr
    assert longest.json()["name"] == "k" * 100
    assert [
        key["name"] for key in cli("key", "list", "--clinic", clinic_id, "--json").json()["keys"]
    ] == ["k" * 100]
