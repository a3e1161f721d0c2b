"""``pims-sync credentials set|rotate``: PIMS logins, encrypted at rest."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from daemon.cli.common import (
    EXIT_OK,
    CliFailure,
    add_json_flag,
    clinic_id_arg,
    emit,
    open_store,
    usage_error,
)
from daemon.config import Settings


def register(commands: Any) -> None:
    credentials = commands.add_parser("credentials", help="store and rotate PIMS logins")
    actions = credentials.add_subparsers(dest="action", required=True, metavar="ACTION")

    store = actions.add_parser("set", help="store a clinic's PIMS login (password on stdin)")
    store.add_argument("--clinic", required=True)
    store.add_argument("--username", required=True)
    store.add_argument("--company-id")
    store.add_argument(
        "--password-stdin",
        action="store_true",
        required=True,
        help="read the password from standard input (never from an argument)",
    )
    add_json_flag(store)
    store.set_defaults(handler=run_set)

    rotate = actions.add_parser("rotate", help="re-encrypt every secret with PIMS_ENCRYPTION_KEY")
    add_json_flag(rotate)
    rotate.set_defaults(handler=run_rotate)


def _read_password() -> str:
    password = sys.stdin.read()
    if password.endswith("\n"):
        password = password[:-1]
        if password.endswith("\r"):
            password = password[:-1]
    return password


def run_set(args: argparse.Namespace, settings: Settings) -> int:
    from daemon.store.clinics import ClinicNotFound

    clinic_id = clinic_id_arg(args.clinic)
    username = args.username.strip()
    if not username:
        raise usage_error("--username: must not be empty")
    company_id = args.company_id.strip() if args.company_id else None
    password = _read_password()
    if not password:
        raise usage_error("--password-stdin: the password read from standard input is empty")
    if settings.encryption_key is None:
        raise usage_error(
            "PIMS_ENCRYPTION_KEY: must be set (32 or more characters) to store credentials"
        )
    store = open_store(settings)
    try:
        clinic = store.clinics.get(clinic_id)
    except ClinicNotFound as exc:
        raise CliFailure(str(exc)) from None
    store.credentials.set(
        clinic_id,
        provider=clinic.provider,
        username=username,
        password=password,
        company_id=company_id,
    )
    emit(
        {"clinicId": str(clinic_id), "username": username},
        args,
        f"credentials stored for clinic {clinic_id} (user {username}); cached session dropped",
    )
    return EXIT_OK


def run_rotate(args: argparse.Namespace, settings: Settings) -> int:
    if settings.encryption_key is None:
        raise usage_error("PIMS_ENCRYPTION_KEY: must be set to the new key before rotating")
    count = open_store(settings).credentials.rotate_all()
    emit({"reencrypted": count}, args, f"re-encrypted {count} stored secret record(s)")
    return EXIT_OK
