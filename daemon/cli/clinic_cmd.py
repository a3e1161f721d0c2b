"""``pims-sync clinic add|set|list``."""

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
from daemon.validation import InvalidValue, http_url, timezone_name
from providers.registry import UnknownProvider, validate_provider_name

if TYPE_CHECKING:
    from daemon.store.clinics import ClinicView


def register(commands: Any) -> None:
    clinic = commands.add_parser("clinic", help="add, edit and list clinics")
    actions = clinic.add_subparsers(dest="action", required=True, metavar="ACTION")

    add = actions.add_parser("add", help="create a clinic with a default schedule configuration")
    add.add_argument("--name", required=True)
    add.add_argument("--timezone", default="America/Los_Angeles", help="IANA name")
    add.add_argument("--provider", default="idexx-neo")
    add.add_argument("--base-url", help="the PIMS's base URL (default: the provider's)")
    add_json_flag(add)
    add.set_defaults(handler=run_add)

    edit = actions.add_parser("set", help="edit a clinic and its schedule configuration")
    edit.add_argument("id")
    edit.add_argument("--name")
    edit.add_argument("--timezone")
    edit.add_argument("--base-url")
    state = edit.add_mutually_exclusive_group()
    state.add_argument("--active", dest="active", action="store_const", const=True)
    state.add_argument("--inactive", dest="active", action="store_const", const=False)
    edit.add_argument("--horizon-days", type=int, help="1..60 days of availability")
    edit.add_argument("--slot-minutes", type=int, help="5..120")
    edit.add_argument("--capacity", type=int, help="appointments per slot, 1..1000")
    add_json_flag(edit)
    edit.set_defaults(handler=run_set)

    listing = actions.add_parser("list", help="list clinics")
    add_json_flag(listing)
    listing.set_defaults(handler=run_list)


def _describe(clinic: ClinicView) -> str:
    state = "active" if clinic.is_active else "inactive"
    return f"{clinic.id}  {clinic.name}  {clinic.provider}  {clinic.timezone}  {state}" + (
        f"  {clinic.base_url}" if clinic.base_url else ""
    )


def _checked(args: argparse.Namespace) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    try:
        if getattr(args, "name", None) is not None:
            if not args.name.strip():
                raise InvalidValue("--name", "must not be empty")
            changes["name"] = args.name.strip()
        if getattr(args, "timezone", None) is not None:
            changes["timezone"] = timezone_name(args.timezone, "--timezone")
        if getattr(args, "base_url", None) is not None:
            changes["base_url"] = http_url(args.base_url, "--base-url")
        for flag, key, low, high in (
            ("horizon_days", "horizon_days", 1, 60),
            ("slot_minutes", "slot_minutes", 5, 120),
            ("capacity", "default_capacity", 1, 1000),
        ):
            value = getattr(args, flag, None)
            if value is not None:
                if not low <= value <= high:
                    raise InvalidValue(
                        "--" + flag.replace("_", "-"), f"must be an integer from {low} to {high}"
                    )
                changes[key] = value
    except InvalidValue as exc:
        raise usage_error(str(exc)) from None
    return changes


def run_add(args: argparse.Namespace, settings: Settings) -> int:
    changes = _checked(args)
    try:
        provider = validate_provider_name(args.provider)
    except UnknownProvider as exc:
        raise usage_error(f"--provider: {exc}") from None
    store = open_store(settings)
    clinic = store.clinics.add(
        name=changes["name"],
        timezone=changes["timezone"],
        provider=provider,
        base_url=changes.get("base_url"),
    )
    emit(clinic.as_json(), args, _describe(clinic))
    return EXIT_OK


def run_set(args: argparse.Namespace, settings: Settings) -> int:
    from daemon.store.clinics import ClinicNotFound

    clinic_id = clinic_id_arg(args.id, "ID")
    changes = _checked(args)
    if args.active is not None:
        changes["is_active"] = args.active
    store = open_store(settings)
    try:
        clinic = store.clinics.update(clinic_id, **changes)
    except ClinicNotFound as exc:
        raise CliFailure(str(exc)) from None
    emit(clinic.as_json(), args, _describe(clinic))
    return EXIT_OK


def run_list(args: argparse.Namespace, settings: Settings) -> int:
    clinics = open_store(settings).clinics.list()
    rows = [
        [str(c.id), c.name, c.provider, c.timezone, "yes" if c.is_active else "no"] for c in clinics
    ]
    emit(
        {"clinics": [c.as_json() for c in clinics]},
        args,
        table(["ID", "NAME", "PROVIDER", "TIMEZONE", "ACTIVE"], rows),
    )
    return EXIT_OK
