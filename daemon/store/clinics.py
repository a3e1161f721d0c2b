"""Clinics, their schedule configuration and their sync schedules."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from daemon.schedule import ScheduleEntry as ScheduleEntry  # re-exported
from daemon.store.database import Database
from daemon.store.models import Clinic, ClinicScheduleConfig
from daemon.store.types import utcnow


class ClinicNotFound(LookupError):
    def __init__(self, clinic_id: object) -> None:
        super().__init__(f"clinic {clinic_id} does not exist")
        self.clinic_id = clinic_id


@dataclass(frozen=True)
class ClinicView:
    """A clinic with its schedule configuration, as the daemon and the syncs read it."""

    id: uuid.UUID
    name: str
    timezone: str
    provider: str
    base_url: str | None
    is_active: bool
    horizon_days: int
    slot_minutes: int | None
    default_capacity: int
    daily_hours: dict[str, Any] | None
    schedules: tuple[ScheduleEntry, ...]
    updated_at: str  # a change stamp: clinic and config updated_at, for the config watcher
    #: Provider settings: status name (lower case) -> normalised status; block type names.
    status_map: dict[str, str] = field(default_factory=dict)
    block_types: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "name": self.name,
            "timezone": self.timezone,
            "provider": self.provider,
            "baseUrl": self.base_url,
            "isActive": self.is_active,
            "statusMap": dict(self.status_map),
            "blockTypes": list(self.block_types),
            "dailyHours": self.daily_hours,
        }


def _entries(raw: list[dict[str, Any]] | None) -> tuple[ScheduleEntry, ...]:
    entries = []
    for item in raw or []:
        entries.append(
            ScheduleEntry(
                type=str(item["type"]),
                cron=str(item["cron"]),
                enabled=bool(item.get("enabled", True)),
            )
        )
    return tuple(entries)


def _view(clinic: Clinic, config: ClinicScheduleConfig) -> ClinicView:
    return ClinicView(
        id=clinic.id,
        name=clinic.name,
        timezone=clinic.timezone,
        provider=clinic.pims_provider,
        base_url=clinic.pims_base_url,
        is_active=clinic.is_active,
        horizon_days=config.sync_horizon_days,
        slot_minutes=config.slot_duration_minutes,
        default_capacity=config.default_capacity,
        daily_hours=config.daily_hours,
        schedules=_entries(config.sync_schedules),
        updated_at=f"{clinic.updated_at.isoformat()}|{config.updated_at.isoformat()}",
        status_map={str(k): str(v) for k, v in (clinic.status_map or {}).items()},
        block_types=tuple(str(name) for name in clinic.block_types or ()),
    )


def _load_for_update(session: Session, clinic_id: uuid.UUID) -> tuple[Clinic, ClinicScheduleConfig]:
    clinic = session.get(Clinic, clinic_id)
    if clinic is None:
        raise ClinicNotFound(clinic_id)
    config = session.execute(
        select(ClinicScheduleConfig).where(ClinicScheduleConfig.clinic_id == clinic_id)
    ).scalar_one()
    return clinic, config


class ClinicRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, *, name: str, timezone: str, provider: str, base_url: str | None) -> ClinicView:
        with self.db.session() as session:
            clinic = Clinic(
                name=name,
                timezone=timezone,
                pims_provider=provider,
                pims_base_url=base_url,
                is_active=True,
            )
            session.add(clinic)
            session.flush()
            config = ClinicScheduleConfig(clinic_id=clinic.id, sync_schedules=[])
            session.add(config)
            session.flush()
            return _view(clinic, config)

    def get(self, clinic_id: uuid.UUID) -> ClinicView:
        with self.db.session() as session:
            row = session.execute(
                select(Clinic, ClinicScheduleConfig)
                .join(ClinicScheduleConfig, ClinicScheduleConfig.clinic_id == Clinic.id)
                .where(Clinic.id == clinic_id)
            ).first()
            if row is None:
                raise ClinicNotFound(clinic_id)
            return _view(row[0], row[1])

    def find_by_name(self, name: str) -> ClinicView | None:
        with self.db.session() as session:
            row = session.execute(
                select(Clinic, ClinicScheduleConfig)
                .join(ClinicScheduleConfig, ClinicScheduleConfig.clinic_id == Clinic.id)
                .where(Clinic.name == name)
                .order_by(Clinic.created_at)
            ).first()
            return None if row is None else _view(row[0], row[1])

    def list(self, *, active_only: bool = False) -> list[ClinicView]:
        with self.db.session() as session:
            query = select(Clinic, ClinicScheduleConfig).join(
                ClinicScheduleConfig, ClinicScheduleConfig.clinic_id == Clinic.id
            )
            if active_only:
                query = query.where(Clinic.is_active.is_(True))
            rows = session.execute(query.order_by(Clinic.created_at, Clinic.name)).all()
            return [_view(clinic, config) for clinic, config in rows]

    def update(
        self, clinic_id: uuid.UUID, *, clear: Iterable[str] = (), **changes: Any
    ) -> ClinicView:
        """Change clinic fields (name, timezone, base_url, is_active, status_map, block_types)
        and config fields (horizon_days, slot_minutes, default_capacity, daily_hours); ``None``
        means unchanged. The fields named in ``clear`` are set to null (for ``daily_hours``:
        the PIMS's own hours again), before ``changes`` apply."""
        clinic_fields = {
            "name": "name",
            "timezone": "timezone",
            "base_url": "pims_base_url",
            "is_active": "is_active",
            "status_map": "status_map",
            "block_types": "block_types",
        }
        config_fields = {
            "horizon_days": "sync_horizon_days",
            "slot_minutes": "slot_duration_minutes",
            "default_capacity": "default_capacity",
            "daily_hours": "daily_hours",
        }
        with self.db.session() as session:
            clinic, config = _load_for_update(session, clinic_id)
            now = utcnow()
            nullable = {"base_url", "status_map", "block_types", "slot_minutes", "daily_hours"}
            for key in clear:
                if key not in nullable:
                    raise TypeError(f"clinic field {key} cannot be cleared")
                if key in clinic_fields:
                    setattr(clinic, clinic_fields[key], None)
                    clinic.updated_at = now
                else:
                    setattr(config, config_fields[key], None)
                    config.updated_at = now
            for key, value in changes.items():
                if value is None:
                    continue
                if key in clinic_fields:
                    setattr(clinic, clinic_fields[key], value)
                    clinic.updated_at = now
                elif key in config_fields:
                    setattr(config, config_fields[key], value)
                    config.updated_at = now
                else:
                    raise TypeError(f"unknown clinic field {key}")
            session.flush()
            return _view(clinic, config)

    def set_schedule(self, clinic_id: uuid.UUID, entry: ScheduleEntry) -> ClinicView:
        return self._edit_schedules(clinic_id, entry.type, entry)

    def remove_schedule(self, clinic_id: uuid.UUID, sync_type: str) -> ClinicView:
        return self._edit_schedules(clinic_id, sync_type, None)

    def _edit_schedules(
        self, clinic_id: uuid.UUID, sync_type: str, entry: ScheduleEntry | None
    ) -> ClinicView:
        with self.db.session() as session:
            clinic, config = _load_for_update(session, clinic_id)
            # One entry per type: replace in place so the list keeps its order.
            kept = [item for item in (config.sync_schedules or []) if item.get("type") != sync_type]
            if entry is not None:
                kept.append(entry.as_json())
                order = {"inbound": 0, "cases": 1, "reconciliation": 2}
                kept.sort(key=lambda item: order.get(str(item.get("type")), 9))
            config.sync_schedules = kept
            config.updated_at = utcnow()
            session.flush()
            return _view(clinic, config)
