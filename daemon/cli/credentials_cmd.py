"""``pims-sync credentials set|rotate``: PIMS logins, encrypted at rest.

Which fields a login has is the provider's business (``PimsProvider.credential_fields``): the
parser accepts every provider's options, and ``set`` checks the ones given against the clinic's
provider, naming what is missing and what does not belong (exit 2).
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from daemon.cli.common import (
    EXIT_OK,
    CliFailure,
    add_json_flag,
    clinic_id_arg,
    emit,
    open_store,
    usage_error,
)
from daemon.cli.values import ID_MAX, secret_value, stdin_text, text_value
from daemon.config import Settings
from daemon.validation import InvalidValue

if TYPE_CHECKING:
    from providers.base import CredentialField

#: Every provider's credential options (a provider with a new field adds its option here).
#: Secret fields are never arguments: they come on standard input, through ``--<name>-stdin``.
VALUE_OPTIONS: dict[str, str] = {
    "--username": "IDEXX Neo user name",
    "--company-id": "IDEXX Neo company id (tenants whose login page asks for one)",
    "--partner-id": "ezyVet partner id",
    "--client-id": "ezyVet API client id",
    "--site-uid": "ezyVet site uid (optional)",
}
STDIN_OPTIONS: dict[str, str] = {
    "--password-stdin": "read the IDEXX Neo password from standard input",
    "--secret-stdin": "read the ezyVet client secret from standard input",
}


def register(commands: Any) -> None:
    credentials = commands.add_parser("credentials", help="store and rotate PIMS logins")
    actions = credentials.add_subparsers(dest="action", required=True, metavar="ACTION")

    store = actions.add_parser(
        "set",
        help="store a clinic's PIMS login (secrets on stdin)",
        description=(
            "Store a clinic's PIMS login, encrypted. The fields depend on the clinic's "
            "provider: idexx-neo takes --username U [--company-id C] --password-stdin; "
            "ezyvet takes --partner-id P --client-id C [--site-uid S] --secret-stdin. "
            "The secret is read from standard input (one trailing newline removed). "
            "Replacing a login drops the cached session."
        ),
    )
    store.add_argument("--clinic", required=True)
    for option, text in VALUE_OPTIONS.items():
        store.add_argument(option, help=text)
    for option, text in STDIN_OPTIONS.items():
        store.add_argument(option, action="store_true", help=text + " (never an argument)")
    add_json_flag(store)
    store.set_defaults(handler=run_set)

    rotate = actions.add_parser("rotate", help="re-encrypt every secret with PIMS_ENCRYPTION_KEY")
    add_json_flag(rotate)
    rotate.set_defaults(handler=run_rotate)


def cli_option(field: CredentialField) -> str:
    """The option that carries the field: ``--password`` is read through
    ``--password-stdin``."""
    return f"{field.option}-stdin" if field.secret else field.option


def _dest(option: str) -> str:
    return option.lstrip("-").replace("-", "_")


def _given(args: argparse.Namespace) -> list[str]:
    options = [o for o in VALUE_OPTIONS if getattr(args, _dest(o)) is not None]
    return options + [o for o in STDIN_OPTIONS if getattr(args, _dest(o))]


def usage_of(provider: str, fields: tuple[CredentialField, ...]) -> str:
    """``idexx-neo takes --username U --password-stdin [--company-id C]``."""
    parts = []
    for field in fields:
        part = cli_option(field)
        if not field.secret:
            part += " " + field.name[:1].upper()
        parts.append(part if field.required else f"[{part}]")
    return f"{provider} takes " + " ".join(parts)


def check_options(
    provider: str, fields: tuple[CredentialField, ...], given: list[str]
) -> list[str]:
    """The problems with the options given for this provider's login (empty: none)."""
    takes = {cli_option(f) for f in fields}
    missing = [cli_option(f) for f in fields if f.required and cli_option(f) not in given]
    foreign = [option for option in given if option not in takes]
    problems = []
    if missing:
        problems.append("missing " + ", ".join(missing))
    if foreign:
        problems.append(f"{', '.join(foreign)} not taken by {provider}")
    return problems


def run_set(args: argparse.Namespace, settings: Settings) -> int:
    from daemon.store.clinics import ClinicNotFound
    from providers.registry import UnknownProvider, provider_class

    clinic_id = clinic_id_arg(args.clinic)
    if settings.encryption_key is None:
        raise usage_error(
            "PIMS_ENCRYPTION_KEY: must be set (32 or more characters) to store credentials"
        )
    store = open_store(settings)
    try:
        clinic = store.clinics.get(clinic_id)
    except ClinicNotFound as exc:
        raise CliFailure(str(exc)) from None
    try:
        fields = provider_class(clinic.provider).credential_fields
    except UnknownProvider as exc:
        raise CliFailure(f"clinic {clinic_id}: {exc}") from None
    problems = check_options(clinic.provider, fields, _given(args))
    if problems:
        raise usage_error(
            f"credentials set: {'; '.join(problems)} ({usage_of(clinic.provider, fields)})"
        )
    values = _values(args, fields)
    store.credentials.set(clinic_id, provider=clinic.provider, fields=values)
    names = [f.name for f in fields if f.name in values]
    emit(
        {"clinicId": str(clinic_id), "provider": clinic.provider, "fields": names},
        args,
        f"credentials stored for clinic {clinic_id} ({clinic.provider}: {', '.join(names)}); "
        "cached session dropped",
    )
    return EXIT_OK


def _values(args: argparse.Namespace, fields: tuple[CredentialField, ...]) -> dict[str, str]:
    secrets = [f for f in fields if f.secret]
    if len(secrets) > 1:  # standard input carries one value
        raise CliFailure("this provider declares more than one secret field; not supported")
    values: dict[str, str] = {}
    try:
        for field in fields:
            option = cli_option(field)
            if field.secret:
                if not getattr(args, _dest(option)):
                    continue
                text = stdin_text(sys.stdin.buffer.read(), option)
                values[field.name] = secret_value(text, option)
            else:
                given = getattr(args, _dest(option))
                if given is not None:
                    values[field.name] = text_value(given, option, max_length=ID_MAX)
    except InvalidValue as exc:
        raise usage_error(str(exc)) from None
    return values


def run_rotate(args: argparse.Namespace, settings: Settings) -> int:
    if settings.encryption_key is None:
        raise usage_error("PIMS_ENCRYPTION_KEY: must be set to the new key before rotating")
    count = open_store(settings).credentials.rotate_all()
    emit({"reencrypted": count}, args, f"re-encrypted {count} stored secret record(s)")
    return EXIT_OK
