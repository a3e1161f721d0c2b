"""A cron that never fires (``0 0 31 2 *``): refused at ``schedule set``, harmless when stored."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import update

from actors.timetable import Timetable
from daemon.schedule import (
    ScheduleEntry,
    cron_fires,
    fire_times,
    next_fire_time,
    previous_fire_time,
)
from daemon.store import Store
from daemon.store.models import ClinicScheduleConfig
from tests.cli.conftest import Cli

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
NEVER = ("0 0 31 2 *", "0 0 30 2 *", "15 6 31 4,6,9,11 *")


@pytest.mark.parametrize("cron", [*NEVER, "not a cron", "61 * * * *"])
def test_an_uncomputable_schedule_has_no_next_or_previous_run(cron: str) -> None:
    assert next_fire_time(cron, "America/Los_Angeles", NOW) is None
    assert previous_fire_time(cron, "America/Los_Angeles", NOW) is None
    assert list(fire_times(cron, "America/Los_Angeles", NOW)) == []
    assert not cron_fires(cron)


def test_rare_but_real_dates_still_fire() -> None:
    assert cron_fires("0 0 29 2 *")  # leap days
    leap = next_fire_time("0 0 29 2 *", "UTC", NOW)
    assert leap == datetime(2028, 2, 29, tzinfo=UTC)
    assert next_fire_time("0 0 31 2 *", "Not/AZone", NOW) is None


def test_the_timetable_skips_a_schedule_that_never_fires() -> None:
    table = Timetable.build(
        (ScheduleEntry("inbound", "0 0 31 2 *"), ScheduleEntry("cases", "0 6 * * *")),
        "America/Los_Angeles",
        NOW,
        {},
    )
    assert [job.sync_type for job in table.jobs] == ["cases"]
    assert [(bad.sync_type, bad.cron) for bad in table.unusable] == [("inbound", "0 0 31 2 *")]
    assert table.jobs[0].next_at is not None


def test_schedule_set_refuses_a_cron_that_never_fires(cli: Cli) -> None:
    clinic_id = cli("clinic", "add", "--name", "Kelley Park", "--json").json()["id"]
    for cron in NEVER:
        result = cli("schedule", "set", "--clinic", clinic_id, "--type", "inbound", "--cron", cron)
        assert result.code == 2, result.stderr
        assert "--cron" in result.stderr and "never fires" in result.stderr
        assert "Traceback" not in result.stderr and result.stdout == ""
    listing = cli("schedule", "list", "--clinic", clinic_id, "--json")
    assert listing.code == 0 and listing.json()["schedules"] == []


def test_a_stored_schedule_that_never_fires_lists_with_a_null_next_run(
    cli: Cli, store: Store
) -> None:
    clinic_id = cli("clinic", "add", "--name", "Lake Cunningham", "--json").json()["id"]
    assert cli("schedule", "set", "--clinic", clinic_id, "--type", "cases",
               "--cron", "0 6 * * *").code == 0  # fmt: skip
    # Written some other way than `schedule set` (an older release, a hand edit).
    with store.db.session() as session:
        session.execute(
            update(ClinicScheduleConfig)
            .where(ClinicScheduleConfig.clinic_id == uuid.UUID(clinic_id))
            .values(
                sync_schedules=[
                    {"type": "inbound", "cron": "0 0 31 2 *", "enabled": True},
                    {"type": "cases", "cron": "0 6 * * *", "enabled": True},
                ]
            )
        )
    listing = cli("schedule", "list", "--clinic", clinic_id, "--json")
    assert listing.code == 0, listing.stderr
    entries = {e["type"]: e for e in listing.json()["schedules"]}
    assert entries["inbound"]["nextRunAt"] is None
    assert entries["cases"]["nextRunAt"] is not None
    human = cli("schedule", "list", "--clinic", clinic_id)
    assert human.code == 0 and "0 0 31 2 *" in human.stdout

    status = cli("status", "--clinic", clinic_id, "--json")
    assert status.code == 0, status.stderr
    codes = [(a["code"], a["syncType"]) for a in status.json()["clinics"][0]["attention"]]
    assert ("schedule_never_fires", "inbound") in codes


def test_removing_a_type_that_is_not_set_says_so_and_exits_1(cli: Cli) -> None:
    """Exit 0 told a script (or a person fixing a typo in --type) that an entry was gone when
    none had been there; the entry that is set stays."""
    clinic_id = cli("clinic", "add", "--name", "Penitencia Creek", "--json").json()["id"]
    assert cli("schedule", "set", "--clinic", clinic_id, "--type", "cases",
               "--cron", "0 6 * * *").code == 0  # fmt: skip
    for extra in ((), ("--json",)):
        result = cli("schedule", "remove", "--clinic", clinic_id, "--type", "inbound", *extra)
        assert result.code == 1, result.stderr
        assert result.stderr.strip().splitlines() == [
            f"pims-sync: error: clinic {clinic_id} has no inbound schedule: nothing was removed"
        ]
        assert result.stdout == ""
    listing = cli("schedule", "list", "--clinic", clinic_id, "--json")
    assert [e["type"] for e in listing.json()["schedules"]] == ["cases"]
    removed = cli("schedule", "remove", "--clinic", clinic_id, "--type", "cases", "--json")
    assert removed.code == 0 and removed.json()["schedules"] == []
