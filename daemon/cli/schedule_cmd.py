"""``pims-sync schedule set|remove|list``: a clinic's cron entries, one per sync type."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from daemon.cli.common import (
    EXIT_OK,
    CliFailure,
    add_json_flag,
    clinic_id_arg,
    emit,
    open_store,
    table,
    usage_error,
)
from daemon.config import Settings
from daemon.names import SYNC_TYPES
from daemon.validation import InvalidValue, cron_expression

if TYPE_CHECKING:
    from daemon.store.clinics import ClinicView


def register(commands: Any) -> None:
    schedules = commands.add_parser("schedule", help="per-clinic cron schedules")
    actions = schedules.add_subparsers(dest="action", required=True, metavar="ACTION")

    entry = actions.add_parser("set", help="add or replace the entry of one sync type")
    entry.add_argument("--clinic", required=True)
    entry.add_argument("--type", required=True, choices=SYNC_TYPES)
    entry.add_argument("--cron", required=True, help="5 fields, in the clinic's timezone")
    entry.add_argument("--disabled", action="store_true")
    add_json_flag(entry)
    entry.set_defaults(handler=run_set)

    remove = actions.add_parser("remove", help="remove the entry of one sync type")
    remove.add_argument("--clinic", required=True)
    remove.add_argument("--type", required=True, choices=SYNC_TYPES)
    add_json_flag(remove)
    remove.set_defaults(handler=run_remove)

    listing = actions.add_parser("list", help="list entries with their next run time")
    listing.add_argument("--clinic", required=True)
    add_json_flag(listing)
    listing.set_defaults(handler=run_list)


def schedules_json(clinic: ClinicView) -> dict[str, Any]:
    """Each entry with its next run; ``nextRunAt`` is null for a disabled entry and for one
    that never fires (a stored ``0 0 31 2 *``)."""
    from daemon.schedule import next_fire_time
    from daemon.store.syncs import iso_utc
    from daemon.store.types import utcnow

    now = utcnow()
    entries = []
    for item in clinic.schedules:
        next_run = next_fire_time(item.cron, clinic.timezone, now) if item.enabled else None
        entries.append(
            {
                "type": item.type,
                "cron": item.cron,
                "enabled": item.enabled,
                "nextRunAt": iso_utc(next_run),
            }
        )
    return {"clinicId": str(clinic.id), "schedules": entries}


def _emit(clinic: ClinicView, args: argparse.Namespace) -> None:
    result = schedules_json(clinic)
    rows = [
        [e["type"], e["cron"], "yes" if e["enabled"] else "no", e["nextRunAt"] or "-"]
        for e in result["schedules"]
    ]
    emit(
        result,
        args,
        f"clinic {clinic.id} ({clinic.timezone})\n"
        + table(["TYPE", "CRON", "ENABLED", "NEXT RUN (UTC)"], rows),
    )


def run_set(args: argparse.Namespace, settings: Settings) -> int:
    clinic_id = clinic_id_arg(args.clinic)
    try:
        cron = cron_expression(args.cron, "--cron")
    except InvalidValue as exc:
        raise usage_error(str(exc)) from None
    from daemon.store.clinics import ClinicNotFound, ScheduleEntry

    store = open_store(settings)
    try:
        clinic = store.clinics.set_schedule(
            clinic_id, ScheduleEntry(type=args.type, cron=cron, enabled=not args.disabled)
        )
    except ClinicNotFound as exc:
        raise CliFailure(str(exc)) from None
    _emit(clinic, args)
    return EXIT_OK


def run_remove(args: argparse.Namespace, settings: Settings) -> int:
    clinic_id = clinic_id_arg(args.clinic)
    from daemon.store.clinics import ClinicNotFound

    store = open_store(settings)
    try:
        # Removing what is not there is a failure (exit 1, as for an unknown clinic): exit 0
        # would tell a script, or an operator who mistyped --type, that an entry is gone.
        if all(item.type != args.type for item in store.clinics.get(clinic_id).schedules):
            raise CliFailure(f"clinic {clinic_id} has no {args.type} schedule: nothing was removed")
        clinic = store.clinics.remove_schedule(clinic_id, args.type)
    except ClinicNotFound as exc:
        raise CliFailure(str(exc)) from None
    _emit(clinic, args)
    return EXIT_OK


def run_list(args: argparse.Namespace, settings: Settings) -> int:
    clinic_id = clinic_id_arg(args.clinic)
    from daemon.store.clinics import ClinicNotFound

    try:
        clinic = open_store(settings).clinics.get(clinic_id)
    except ClinicNotFound as exc:
        raise CliFailure(str(exc)) from None
    _emit(clinic, args)
    return EXIT_OK
