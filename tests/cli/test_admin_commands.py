from __future__ import annotations

from pathlib import Path

from tests.cli.conftest import Cli


def _add_clinic(cli: Cli, name: str = "Alum Rock", *extra: str) -> str:
    result = cli("clinic", "add", "--name", name, *extra, "--json")
    assert result.code == 0, result.stderr
    clinic_id: str = result.json()["id"]
    return clinic_id


def test_migrate_is_idempotent_and_prints_revision(cli: Cli) -> None:
    first, second = cli("migrate", "--json"), cli("migrate", "--json")
    assert first.code == second.code == 0
    assert first.json() == second.json() and first.json()["revision"]


def test_clinic_add_set_list(cli: Cli) -> None:
    clinic_id = _add_clinic(cli, "Zoë's Clinic", "--timezone", "America/New_York")
    result = cli(
        "clinic",
        "set",
        clinic_id,
        "--inactive",
        "--horizon-days",
        "21",
        "--base-url",
        "http://127.0.0.1:3100/",
        "--json",
    )
    assert result.code == 0, result.stderr
    assert result.json() == {
        "id": clinic_id,
        "name": "Zoë's Clinic",
        "timezone": "America/New_York",
        "provider": "idexx-neo",
        "baseUrl": "http://127.0.0.1:3100",
        "isActive": False,
    }
    listing = cli("clinic", "list", "--json")
    assert listing.code == 0 and listing.json()["clinics"][0]["id"] == clinic_id
    human = cli("clinic", "list")
    assert clinic_id in human.stdout and "Zoë's Clinic" in human.stdout


def test_bad_values_exit_2_naming_the_argument(cli: Cli) -> None:
    clinic_id = _add_clinic(cli)
    cases = [
        (("clinic", "add", "--name", "X", "--timezone", "Mars/Olympus"), "--timezone"),
        (("clinic", "set", clinic_id, "--slot-minutes", "3"), "--slot-minutes"),
        (("clinic", "set", "not-a-uuid", "--name", "y"), "ID"),
        (("clinic", "add", "--name", "X", "--provider", "vetbox"), "--provider"),
        (
            ("schedule", "set", "--clinic", clinic_id, "--type", "cases", "--cron", "61 * * * *"),
            "--cron",
        ),
        (
            ("schedule", "set", "--clinic", clinic_id, "--type", "cases", "--cron", "* * * *"),
            "--cron",
        ),
        (
            ("schedule", "set", "--clinic", clinic_id, "--type", "nightly", "--cron", "0 1 * * *"),
            "--type",
        ),
        (
            ("key", "create", "--clinic", clinic_id, "--name", "k", "--expires-in-days", "-1"),
            "--expires-in-days",
        ),
        (
            ("key", "create", "--clinic", clinic_id, "--name", "k", "--permission", "admin"),
            "--permission",
        ),
    ]
    for args, named in cases:
        result = cli(*args)
        assert result.code == 2, (args, result.stderr)
        assert named in result.stderr, (args, result.stderr)
        assert result.stdout == ""


def test_unknown_clinic_exits_1(cli: Cli) -> None:
    missing = "6f1e1f40-0000-4000-8000-000000000000"
    for args in (
        ("clinic", "set", missing, "--name", "x"),
        ("key", "create", "--clinic", missing, "--name", "k"),
        ("schedule", "list", "--clinic", missing),
    ):
        result = cli(*args)
        assert result.code == 1, (args, result.stderr)
        assert missing in result.stderr


def test_bad_environment_stops_with_one_line(cli: Cli) -> None:
    result = cli("clinic", "list", PORT="seventy")
    assert result.code == 2
    assert result.stderr.strip().splitlines() == [
        "pims-sync: error: PORT: must be an integer from 0 to 65535 (got 'seventy')"
    ]
    short = cli("clinic", "list", PIMS_ENCRYPTION_KEY="too-short")
    assert short.code == 2 and "PIMS_ENCRYPTION_KEY" in short.stderr
    assert "too-short" not in short.stderr


def test_credentials_are_encrypted_and_never_printed(cli: Cli, database_url: str) -> None:
    clinic_id = _add_clinic(cli)
    password = "Very-Secret-Pässword-123"
    result = cli(
        "credentials",
        "set",
        "--clinic",
        clinic_id,
        "--username",
        "front.desk",
        "--company-id",
        "acme-42",
        "--password-stdin",
        "--json",
        stdin=password + "\n",
    )
    assert result.code == 0, result.stderr
    assert result.json() == {"clinicId": clinic_id, "username": "front.desk"}
    assert password not in result.stdout + result.stderr
    empty = cli(
        "credentials",
        "set",
        "--clinic",
        clinic_id,
        "--username",
        "u",
        "--password-stdin",
        stdin="\n",
    )
    assert empty.code == 2 and "empty" in empty.stderr
    if database_url.startswith("sqlite"):
        path = Path(database_url.removeprefix("sqlite:///"))
        blob = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
        assert password.encode() not in blob and b"acme-42" not in blob
    else:
        from sqlalchemy import create_engine, text

        engine = create_engine(database_url)
        with engine.connect() as connection:
            dump = str(connection.execute(text("SELECT * FROM pims_credentials")).all())
        engine.dispose()
        assert password not in dump and "acme-42" not in dump and "front.desk" not in dump


def test_rotation_reencrypts_and_wrong_key_is_a_clear_error(cli: Cli) -> None:
    clinic_id = _add_clinic(cli)
    assert (
        cli(
            "credentials",
            "set",
            "--clinic",
            clinic_id,
            "--username",
            "u",
            "--password-stdin",
            stdin="pw",
        ).code
        == 0
    )
    new_key = "n" * 40
    old_key = cli.env["PIMS_ENCRYPTION_KEY"]
    refused = cli("credentials", "rotate", PIMS_ENCRYPTION_KEY=new_key)
    assert refused.code == 1 and clinic_id in refused.stderr
    rotated = cli(
        "credentials",
        "rotate",
        "--json",
        PIMS_ENCRYPTION_KEY=new_key,
        PIMS_ENCRYPTION_KEY_PREVIOUS=old_key,
    )
    assert rotated.code == 0, rotated.stderr
    assert rotated.json() == {"reencrypted": 1}
    again = cli("credentials", "rotate", "--json", PIMS_ENCRYPTION_KEY=new_key)
    assert again.json() == {"reencrypted": 0}


def test_key_create_list_revoke(cli: Cli) -> None:
    clinic_id = _add_clinic(cli)
    created = cli(
        "key",
        "create",
        "--clinic",
        clinic_id,
        "--name",
        "phone agent",
        "--permission",
        "sync:read",
        "--expires-in-days",
        "30",
        "--json",
    )
    assert created.code == 0, created.stderr
    body = created.json()
    assert body["key"].startswith("pims_sk_") and len(body["key"]) == 48
    assert body["prefix"] == body["key"][:12] and body["permissions"] == ["sync:read"]
    assert body["expiresAt"].endswith("Z")
    listing = cli("key", "list", "--clinic", clinic_id, "--json")
    keys = listing.json()["keys"]
    assert [k["id"] for k in keys] == [body["id"]] and "key" not in keys[0]
    assert body["key"] not in listing.stdout
    revoked = cli("key", "revoke", body["id"], "--json")
    assert revoked.json() == {"id": body["id"], "isActive": False}
    assert cli("key", "revoke", "6f1e1f40-0000-4000-8000-000000000000").code == 1


def test_schedule_set_list_remove(cli: Cli) -> None:
    clinic_id = _add_clinic(cli)
    result = cli(
        "schedule",
        "set",
        "--clinic",
        clinic_id,
        "--type",
        "inbound",
        "--cron",
        "0 6 * * *",
        "--json",
    )
    assert result.code == 0, result.stderr
    cli(
        "schedule",
        "set",
        "--clinic",
        clinic_id,
        "--type",
        "cases",
        "--cron",
        "0 8 * * *",
        "--disabled",
    )
    listing = cli("schedule", "list", "--clinic", clinic_id, "--json").json()
    entries = {e["type"]: e for e in listing["schedules"]}
    assert entries["inbound"]["nextRunAt"].endswith("Z")
    assert entries["cases"] == {
        "type": "cases",
        "cron": "0 8 * * *",
        "enabled": False,
        "nextRunAt": None,
    }
    removed = cli("schedule", "remove", "--clinic", clinic_id, "--type", "inbound", "--json")
    assert [e["type"] for e in removed.json()["schedules"]] == ["cases"]


def test_unmigrated_database_is_reported(tmp_path: Path) -> None:
    cli = Cli(f"sqlite:///{tmp_path / 'fresh.db'}")
    result = cli("clinic", "list")
    assert result.code == 1 and "pims-sync migrate" in result.stderr
