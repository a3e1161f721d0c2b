"""``pims-sync key create|list|revoke``: per-clinic API keys."""

from __future__ import annotations

import argparse
from typing import Any

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
from daemon.cli.values import integer_value, text_value
from daemon.config import Settings
from daemon.names import PERMISSIONS
from daemon.validation import InvalidValue

#: The longest key name (the ``clinic_api_keys.name`` check constraint).
KEY_NAME_MAX = 100


def register(commands: Any) -> None:
    keys = commands.add_parser("key", help="create, list and revoke API keys")
    actions = keys.add_subparsers(dest="action", required=True, metavar="ACTION")

    create = actions.add_parser("create", help="create a key; it is printed once")
    create.add_argument("--clinic", required=True)
    create.add_argument("--name", required=True)
    create.add_argument(
        "--permission",
        action="append",
        choices=PERMISSIONS,
        help="repeat to grant several (default: all four)",
    )
    create.add_argument("--expires-in-days", help="1..3650 (default: never expires)")
    add_json_flag(create)
    create.set_defaults(handler=run_create)

    listing = actions.add_parser("list", help="list a clinic's keys (never the keys themselves)")
    listing.add_argument("--clinic", required=True)
    add_json_flag(listing)
    listing.set_defaults(handler=run_list)

    revoke = actions.add_parser("revoke", help="deactivate a key by its id")
    revoke.add_argument("key_id", metavar="KEY_ID")
    add_json_flag(revoke)
    revoke.set_defaults(handler=run_revoke)


def run_create(args: argparse.Namespace, settings: Settings) -> int:
    clinic_id = clinic_id_arg(args.clinic)
    try:
        name = text_value(args.name, "--name", max_length=KEY_NAME_MAX)
        expires_in_days = (
            None
            if args.expires_in_days is None
            else integer_value(args.expires_in_days, "--expires-in-days", 1, 3650)
        )
    except InvalidValue as exc:
        raise usage_error(str(exc)) from None
    permissions = tuple(args.permission) if args.permission else PERMISSIONS
    from daemon.store.clinics import ClinicNotFound

    store = open_store(settings)
    try:
        store.clinics.get(clinic_id)
    except ClinicNotFound as exc:
        raise CliFailure(str(exc)) from None
    view, key = store.keys.create(
        clinic_id, name=name, permissions=permissions, expires_in_days=expires_in_days
    )
    record = view.as_json()
    result = {
        "id": record["id"],
        "key": key,
        "prefix": view.prefix,
        "name": view.name,
        "permissions": record["permissions"],
        "expiresAt": record["expiresAt"],
    }
    emit(result, args, f"{key}\n(key id {view.id}; shown once, store it now)")
    return EXIT_OK


def run_list(args: argparse.Namespace, settings: Settings) -> int:
    clinic_id = clinic_id_arg(args.clinic)
    from daemon.store.clinics import ClinicNotFound

    store = open_store(settings)
    try:
        store.clinics.get(clinic_id)
    except ClinicNotFound as exc:
        raise CliFailure(str(exc)) from None
    views = store.keys.list(clinic_id)
    rows = [
        [
            str(v.id),
            v.name,
            v.prefix + "…",
            ",".join(v.permissions),
            "active" if v.is_active else "revoked",
            v.as_json()["expiresAt"] or "never",
        ]
        for v in views
    ]
    emit(
        {"keys": [v.as_json() for v in views]},
        args,
        table(["ID", "NAME", "PREFIX", "PERMISSIONS", "STATE", "EXPIRES"], rows),
    )
    return EXIT_OK


def run_revoke(args: argparse.Namespace, settings: Settings) -> int:
    key_id = clinic_id_arg(args.key_id, "KEY_ID")
    view = open_store(settings).keys.revoke(key_id)
    if view is None:
        raise CliFailure(f"API key {key_id} does not exist")
    emit({"id": str(view.id), "isActive": view.is_active}, args, f"API key {view.id} revoked")
    return EXIT_OK
