"""``pims-sync clinic add|set|list``.

Besides the clinic's own fields, ``set`` edits the settings a provider may need (contract §7):
status-name overrides (``--status-map``), block appointment types (``--block-type``) and opening
hours (``--hours``, for a PIMS that gives none, such as ezyVet). Each is validated here, with
the flag and the rule named on failure (exit 2).
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
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
from daemon.cli.values import integer_value, text_value
from daemon.config import Settings
from daemon.validation import InvalidValue, daily_hours, http_url, timezone_name, wall_time

if TYPE_CHECKING:
    from daemon.store.clinics import ClinicView

#: The normalised appointment statuses a status name may map to (``providers.base``).
STATUSES = ("scheduled", "in_progress", "finalized", "no_show", "cancelled")
#: Most entries a clinic may have in its status map and block types.
MAX_SETTINGS = 100
_HOURS = re.compile(r"^(?P<open>\d{2}:\d{2})-(?P<close>\d{2}:\d{2})$")


def register(commands: Any) -> None:
    clinic = commands.add_parser("clinic", help="add, edit and list clinics")
    actions = clinic.add_subparsers(dest="action", required=True, metavar="ACTION")

    add = actions.add_parser("add", help="create a clinic with a default schedule configuration")
    add.add_argument("--name", required=True)
    add.add_argument("--timezone", default="America/Los_Angeles", help="IANA name")
    add.add_argument("--provider", default="idexx-neo", help="idexx-neo (default) or ezyvet")
    add.add_argument("--base-url", help="the PIMS's base URL (default: the provider's)")
    add_json_flag(add)
    add.set_defaults(handler=run_add)

    edit = actions.add_parser(
        "set",
        help="edit a clinic, its schedule configuration and its provider settings",
        description=(
            "Edit a clinic. --status-map, --block-type and --hours are repeatable and add to "
            "what is stored (a later value for the same name or day replaces the earlier one); "
            "--clear-status-map, --clear-block-types and --clear-hours remove every entry "
            "first, so that a clear with new values replaces the whole setting."
        ),
    )
    edit.add_argument("id")
    edit.add_argument("--name")
    edit.add_argument("--timezone")
    edit.add_argument("--base-url")
    state = edit.add_mutually_exclusive_group()
    state.add_argument("--active", dest="active", action="store_const", const=True)
    state.add_argument("--inactive", dest="active", action="store_const", const=False)
    edit.add_argument("--horizon-days", help="1..60 days of availability")
    edit.add_argument("--slot-minutes", help="5..120")
    edit.add_argument("--capacity", help="appointments per slot, 1..1000")
    edit.add_argument(
        "--status-map",
        action="append",
        default=[],
        metavar="NAME=STATUS",
        help=(
            "map the PIMS status NAME (any case) to STATUS, one of "
            + ", ".join(STATUSES)
            + "; repeatable"
        ),
    )
    edit.add_argument(
        "--clear-status-map", action="store_true", help="remove every status-name override"
    )
    edit.add_argument(
        "--block-type",
        action="append",
        default=[],
        metavar="NAME",
        help="an appointment type NAME (any case) that blocks time; repeatable",
    )
    edit.add_argument(
        "--clear-block-types", action="store_true", help="remove every block appointment type"
    )
    edit.add_argument(
        "--hours",
        action="append",
        default=[],
        metavar="DAY=HH:MM-HH:MM|closed",
        help=(
            "opening hours of weekday DAY (0-6, Sunday = 0), or closed; repeatable. Days never "
            "given are closed once any is set. Without hours the PIMS's own are used"
        ),
    )
    edit.add_argument(
        "--clear-hours",
        action="store_true",
        help="remove the clinic's hours (the PIMS's own hours apply again)",
    )
    add_json_flag(edit)
    edit.set_defaults(handler=run_set)

    listing = actions.add_parser("list", help="list clinics")
    add_json_flag(listing)
    listing.set_defaults(handler=run_list)


# -- showing ---------------------------------------------------------------------------------


def _status_map_text(clinic: ClinicView) -> str:
    return ", ".join(f"{name}={status}" for name, status in sorted(clinic.status_map.items()))


def _hours_text(clinic: ClinicView) -> str:
    if clinic.daily_hours is None:
        return "PIMS"
    parts = []
    for day in sorted(clinic.daily_hours, key=int):
        entry = clinic.daily_hours[day]
        opened = entry.get("enabled")
        parts.append(
            f"{day}={entry.get('open')}-{entry.get('close')}" if opened else f"{day}=closed"
        )
    return " ".join(parts)


def _describe(clinic: ClinicView) -> str:
    state = "active" if clinic.is_active else "inactive"
    lines = [
        f"{clinic.id}  {clinic.name}  {clinic.provider}  {clinic.timezone}  {state}"
        + (f"  {clinic.base_url}" if clinic.base_url else ""),
        f"  hours: {_hours_text(clinic)}",
    ]
    if clinic.status_map:
        lines.append(f"  status map: {_status_map_text(clinic)}")
    if clinic.block_types:
        lines.append(f"  block types: {', '.join(clinic.block_types)}")
    return "\n".join(lines)


# -- checking --------------------------------------------------------------------------------


def _checked(args: argparse.Namespace) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    try:
        if getattr(args, "name", None) is not None:
            changes["name"] = text_value(args.name, "--name")
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
                changes[key] = integer_value(value, "--" + flag.replace("_", "-"), low, high)
    except InvalidValue as exc:
        raise usage_error(str(exc)) from None
    return changes


def parse_status_map(values: list[str]) -> dict[str, str]:
    """``NAME=STATUS`` entries; names lower-cased (they are matched case-insensitively)."""
    result: dict[str, str] = {}
    for raw in values:
        name, sep, status = raw.rpartition("=")
        if not sep:
            raise InvalidValue("--status-map", f"must be NAME=STATUS (got {raw!r})")
        key = text_value(name, "--status-map NAME").lower()
        status = status.strip().lower()
        if status not in STATUSES:
            raise InvalidValue(
                "--status-map", f"STATUS must be one of {', '.join(STATUSES)} (got {status!r})"
            )
        result[key] = status
    return result


def parse_block_types(values: list[str]) -> list[str]:
    return [text_value(raw, "--block-type").lower() for raw in values]


def parse_hours(values: list[str]) -> dict[str, dict[str, object]]:
    """``DAY=HH:MM-HH:MM`` or ``DAY=closed`` entries as ``daily_hours`` entries."""
    result: dict[str, dict[str, object]] = {}
    for raw in values:
        day, sep, span = raw.partition("=")
        day, span = day.strip(), span.strip()
        if not sep or day not in {str(d) for d in range(7)}:
            raise InvalidValue(
                "--hours", f"must be DAY=HH:MM-HH:MM or DAY=closed, DAY 0-6 (got {raw!r})"
            )
        if day in result:
            raise InvalidValue("--hours", f"day {day} is given more than once")
        if span.lower() == "closed":
            result[day] = {"enabled": False, "open": "00:00", "close": "00:00"}
            continue
        match = _HOURS.fullmatch(span)
        if match is None:
            raise InvalidValue(
                f"--hours {day}", f"must be HH:MM-HH:MM (24-hour) or closed (got {span!r})"
            )
        opens = wall_time(match["open"], f"--hours {day}")
        closes = wall_time(match["close"], f"--hours {day}")
        if opens >= closes:
            raise InvalidValue(f"--hours {day}", "the opening time must be before the closing time")
        result[day] = {"enabled": True, "open": opens, "close": closes}
    return result


@dataclass(frozen=True)
class _SettingsEdit:
    """What ``clinic set`` asks of the provider settings, checked before the database is
    touched."""

    status_map: dict[str, str]
    block_types: list[str]
    hours: dict[str, dict[str, object]]
    clear_status_map: bool
    clear_block_types: bool
    clear_hours: bool

    @classmethod
    def of(cls, args: argparse.Namespace) -> _SettingsEdit:
        try:
            return cls(
                status_map=parse_status_map(args.status_map),
                block_types=parse_block_types(args.block_type),
                hours=parse_hours(args.hours),
                clear_status_map=args.clear_status_map,
                clear_block_types=args.clear_block_types,
                clear_hours=args.clear_hours,
            )
        except InvalidValue as exc:
            raise usage_error(str(exc)) from None

    def apply_to(self, current: ClinicView) -> tuple[dict[str, Any], list[str]]:
        """The changes for the repository and the fields to clear first."""
        changes: dict[str, Any] = {}
        clear: list[str] = []
        if self.clear_status_map:
            clear.append("status_map")
        if self.status_map:
            kept = {} if self.clear_status_map else dict(current.status_map)
            changes["status_map"] = {**kept, **self.status_map}
        if self.clear_block_types:
            clear.append("block_types")
        if self.block_types:
            names = [] if self.clear_block_types else list(current.block_types)
            changes["block_types"] = list(dict.fromkeys([*names, *self.block_types]))
        if self.clear_hours:
            clear.append("daily_hours")
        if self.hours:
            base = {} if self.clear_hours or current.daily_hours is None else current.daily_hours
            try:
                changes["daily_hours"] = daily_hours({**base, **self.hours}, "--hours")
            except InvalidValue as exc:  # a stored entry that no longer passes
                raise usage_error(str(exc)) from None
        for key, flag in (("status_map", "--status-map"), ("block_types", "--block-type")):
            if len(changes.get(key, ())) > MAX_SETTINGS:
                raise usage_error(f"{flag}: at most {MAX_SETTINGS} entries per clinic")
        return changes, clear


# -- commands --------------------------------------------------------------------------------


def run_add(args: argparse.Namespace, settings: Settings) -> int:
    from providers.registry import UnknownProvider, validate_provider_name

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
    edit = _SettingsEdit.of(args)
    store = open_store(settings)
    try:
        current = store.clinics.get(clinic_id)
        extra, clear = edit.apply_to(current)
        clinic = store.clinics.update(clinic_id, clear=clear, **changes, **extra)
    except ClinicNotFound as exc:
        raise CliFailure(str(exc)) from None
    emit(clinic.as_json(), args, _describe(clinic))
    return EXIT_OK


def run_list(args: argparse.Namespace, settings: Settings) -> int:
    clinics = open_store(settings).clinics.list()
    rows = [
        [
            str(c.id),
            c.name,
            c.provider,
            c.timezone,
            "yes" if c.is_active else "no",
            _hours_text(c),
            _status_map_text(c) or "-",
            ", ".join(c.block_types) or "-",
        ]
        for c in clinics
    ]
    emit(
        {"clinics": [c.as_json() for c in clinics]},
        args,
        table(
            ["ID", "NAME", "PROVIDER", "TIMEZONE", "ACTIVE", "HOURS", "STATUS MAP", "BLOCK TYPES"],
            rows,
        ),
    )
    return EXIT_OK
