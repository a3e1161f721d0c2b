from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

from daemon.store import Database, SecretBox, Store
from daemon.store.secrets import NoCredentials
from providers.base import Credentials
from tests.cli.conftest import Cli
from tests.conftest import TEST_KEY


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
        "statusMap": {},
        "blockTypes": [],
        "dailyHours": None,
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
    assert result.json() == {
        "clinicId": clinic_id,
        "provider": "idexx-neo",
        "fields": ["username", "password", "company_id"],
    }
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


# -- credentials by provider ---------------------------------------------------------------


def _stored(database_url: str, clinic_id: str) -> Credentials | None:
    db = Database(database_url)
    try:
        return Store(db, SecretBox(TEST_KEY)).credentials.get(uuid.UUID(clinic_id))
    except NoCredentials:
        return None
    finally:
        db.dispose()


def _run_with_bytes(cli: Cli, args: list[str], stdin: bytes) -> tuple[int, str, str]:
    done = subprocess.run(
        [sys.executable, "-m", "daemon", *args],
        input=stdin,
        capture_output=True,
        env=cli.env,
        timeout=120,
    )
    return done.returncode, done.stdout.decode(), done.stderr.decode()


def test_idexx_neo_credentials_refuse_foreign_and_missing_flags(
    cli: Cli, database_url: str
) -> None:
    clinic_id = _add_clinic(cli)
    wrong = cli(
        "credentials",
        "set",
        "--clinic",
        clinic_id,
        "--partner-id",
        "p-1",
        "--password-stdin",
        stdin="pw\n",
    )
    assert wrong.code == 2 and wrong.stdout == ""
    assert "missing --username" in wrong.stderr
    assert "--partner-id not taken by idexx-neo" in wrong.stderr
    assert "idexx-neo takes --username U --password-stdin [--company-id C]" in wrong.stderr
    no_secret = cli("credentials", "set", "--clinic", clinic_id, "--username", "u")
    assert no_secret.code == 2 and "missing --password-stdin" in no_secret.stderr
    assert _stored(database_url, clinic_id) is None  # nothing stored by a refused command


def test_ezyvet_credentials_take_their_own_flags(cli: Cli, database_url: str) -> None:
    clinic_id = _add_clinic(cli, "Ezy Clinic", "--provider", "ezyvet")
    secret = "client-Secret-Ünï-9"
    args = ["credentials", "set", "--clinic", clinic_id, "--partner-id", "partner-7"]
    args += ["--client-id", "client-42", "--secret-stdin", "--json"]
    stored = cli(*args, stdin=secret + "\r\n")
    assert stored.code == 0, stored.stderr
    assert stored.json() == {
        "clinicId": clinic_id,
        "provider": "ezyvet",
        "fields": ["partner_id", "client_id", "client_secret"],
    }
    assert secret not in stored.stdout + stored.stderr
    assert _stored(database_url, clinic_id) == Credentials.of(
        partner_id="partner-7", client_id="client-42", client_secret=secret
    )
    with_site = cli(*args, "--site-uid", "site-1", stdin=secret)
    assert with_site.code == 0 and with_site.json()["fields"][-1] == "site_uid"

    foreign = cli(*args, "--username", "front.desk", "--password-stdin", stdin=secret)
    assert foreign.code == 2 and foreign.stdout == ""
    assert "--username, --password-stdin not taken by ezyvet" in foreign.stderr
    missing = cli("credentials", "set", "--clinic", clinic_id, "--client-id", "c", stdin="s")
    assert missing.code == 2
    assert "missing --partner-id, --secret-stdin" in missing.stderr
    assert (
        "ezyvet takes --partner-id P --client-id C --secret-stdin [--site-uid S]" in missing.stderr
    )
    creds = _stored(database_url, clinic_id)
    assert creds is not None and creds.get("site_uid") == "site-1"  # the refusals kept it


def test_secret_on_stdin_must_be_utf8_text(cli: Cli, database_url: str) -> None:
    clinic_id = _add_clinic(cli)
    args = ["credentials", "set", "--clinic", clinic_id, "--username", "u", "--password-stdin"]
    code, stdout, stderr = _run_with_bytes(cli, args, b"caf\xe9-latin1\n")
    assert code == 2 and stdout == ""
    assert "--password-stdin: standard input is not valid UTF-8" in stderr
    assert "Traceback" not in stderr
    code, _, stderr = _run_with_bytes(cli, args, b"pass\x00word\n")
    assert code == 2 and "--password-stdin: must not contain control characters" in stderr
    assert "pass" not in stderr.replace("--password-stdin", "")
    code, _, stderr = _run_with_bytes(cli, args, b"p" * 1025)
    assert code == 2 and "at most 1024 characters" in stderr
    assert _stored(database_url, clinic_id) is None


def test_names_get_length_limits_and_no_control_characters(cli: Cli) -> None:
    clinic_id = _add_clinic(cli)
    base = ["credentials", "set", "--clinic", clinic_id, "--password-stdin"]
    cases = [
        (["clinic", "add", "--name", "Bell\x07Clinic"], "--name: must not contain control"),
        (["clinic", "add", "--name", "x" * 201], "--name: must be at most 200 characters"),
        (["clinic", "set", clinic_id, "--name", "  "], "--name: must not be empty"),
        ([*base, "--username", "front\x1b[31m"], "--username: must not contain control"),
        ([*base, "--username", "u" * 257], "--username: must be at most 256 characters"),
        ([*base, "--username", "u", "--company-id", "a\tb"], "--company-id: must not contain"),
    ]
    for args, message in cases:
        result = cli(*args, stdin="pw")
        assert result.code == 2, (args, result.stderr)
        assert message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr


# -- clinic provider settings --------------------------------------------------------------


def test_clinic_settings_are_validated_stored_and_shown(cli: Cli) -> None:
    clinic_id = _add_clinic(cli, "Ezy Clinic", "--provider", "ezyvet")
    result = cli(
        "clinic",
        "set",
        clinic_id,
        "--status-map",
        "Checked Out=finalized",
        "--status-map",
        "DNA = no_show",
        "--block-type",
        "Surgery Block",
        "--hours",
        "0=closed",
        "--hours",
        "1=08:00-18:00",
        "--json",
    )
    assert result.code == 0, result.stderr
    body = result.json()
    assert body["provider"] == "ezyvet"
    assert body["statusMap"] == {"checked out": "finalized", "dna": "no_show"}
    assert body["blockTypes"] == ["surgery block"]
    assert body["dailyHours"] == {
        "0": {"enabled": False, "open": "00:00", "close": "00:00"},
        "1": {"enabled": True, "open": "08:00", "close": "18:00"},
    }
    more = cli(
        "clinic",
        "set",
        clinic_id,
        "--status-map",
        "dna=cancelled",
        "--block-type",
        "LUNCH",
        "--hours",
        "2=09:00-17:30",
        "--json",
    ).json()
    assert more["statusMap"] == {"checked out": "finalized", "dna": "cancelled"}
    assert more["blockTypes"] == ["surgery block", "lunch"]
    assert set(more["dailyHours"]) == {"0", "1", "2"}
    listing = cli("clinic", "list", "--json").json()["clinics"]
    assert listing[0]["statusMap"] == more["statusMap"]
    human = cli("clinic", "list").stdout
    assert "1=08:00-18:00" in human and "dna=cancelled" in human and "lunch" in human

    replaced = cli(
        "clinic", "set", clinic_id, "--clear-status-map", "--status-map", "Done=finalized", "--json"
    ).json()
    assert replaced["statusMap"] == {"done": "finalized"}
    cleared = cli(
        "clinic", "set", clinic_id, "--clear-block-types", "--clear-hours", "--json"
    ).json()
    assert (cleared["blockTypes"], cleared["dailyHours"]) == ([], None)
    assert cleared["statusMap"] == {"done": "finalized"}
    help_text = cli("clinic", "set", "--help").stdout
    assert "--clear-status-map" in help_text and "--clear-hours" in help_text


def test_bad_clinic_settings_exit_2_and_change_nothing(cli: Cli) -> None:
    clinic_id = _add_clinic(cli)
    before = cli("clinic", "list", "--json").json()
    cases = [
        (("--status-map", "Done=complete"), "--status-map: STATUS must be one of scheduled"),
        (("--status-map", "Done"), "--status-map: must be NAME=STATUS"),
        (("--status-map", "=finalized"), "--status-map NAME: must not be empty"),
        (("--block-type", " "), "--block-type: must not be empty"),
        (("--block-type", "a\x01b"), "--block-type: must not contain control characters"),
        (("--hours", "7=08:00-18:00"), "--hours: must be DAY=HH:MM-HH:MM or DAY=closed"),
        (("--hours", "1=18:00-08:00"), "--hours 1: the opening time must be before"),
        (("--hours", "1=8-18"), "--hours 1: must be HH:MM-HH:MM"),
        (("--hours", "1=08:00-24:30"), "--hours 1: must be a time HH:MM"),
        (("--hours", "1=closed", "--hours", "1=09:00-10:00"), "day 1 is given more than once"),
    ]
    for args, message in cases:
        result = cli("clinic", "set", clinic_id, *args, "--hours", "3=09:00-10:00")
        assert result.code == 2, (args, result.stderr)
        assert message in result.stderr, (args, result.stderr)
        assert result.stdout == ""
    assert cli("clinic", "list", "--json").json() == before
