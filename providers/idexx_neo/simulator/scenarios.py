"""Seeded generation of a clinic's calendar and consultations.

The same (scenario, today, timezone) always yields the same events, ids and texts: the seed is
a hash of the three, and every random choice goes through one ``random.Random`` in a fixed order.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from providers.idexx_neo.simulator import catalog
from providers.idexx_neo.simulator.catalog import AppointmentType, Column, Vet
from providers.idexx_neo.simulator.walltime import at, format_wall
from providers.simulation.seeding import check_scenario, seeded_random

SCENARIOS: tuple[str, ...] = ("default", "scale")

FIRST_APPOINTMENT_ID = 500101
FIRST_CONSULTATION_ID = 880201
FIRST_BLOCK_ID = 700101
FIRST_ROSTER_ID = 710101
FIRST_LINE_ID = 990001
FIRST_PATIENT_ID = 40001
FIRST_CLIENT_ID = 20001
COMPANY_NUMBER = 3125  # IDEXX's own numeric company id, echoed in pageData.providers

SLOT = 15
SATURDAY = 5


@dataclass(frozen=True)
class Household:
    client_id: int
    client: catalog.ClientTemplate
    patient_id: int
    pet: catalog.PetTemplate


@dataclass
class Appointment:
    start: datetime
    end: datetime
    column: Column
    vet: Vet
    kind: AppointmentType
    household: Household
    reason: str
    status: str | None = None  # None = both status fields absent (the feed's "Scheduled")
    status_label: str | None = None
    consultation_status: str | None = None  # set when a consultation exists


@dataclass
class Built:
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    consultations: dict[str, dict[str, Any]] = field(default_factory=dict)
    schedule_config: dict[str, Any] = field(default_factory=dict)


def build(scenario: str, today: date, timezone: str) -> Built:
    check_scenario(scenario, SCENARIOS)
    rng = seeded_random(f"{scenario}|{today.isoformat()}|{timezone}")
    builder = _DefaultScenario if scenario == "default" else _ScaleScenario
    return builder(rng, today).build()


def schedule_config() -> dict[str, Any]:
    return {
        "slotInterval": SLOT,
        "businessHours": [
            {"daysOfWeek": [1, 2, 3, 4, 5], "startTime": "08:00", "endTime": "18:00"},
            {"daysOfWeek": [6], "startTime": "09:00", "endTime": "13:00"},
        ],
        "appointmentTypes": [
            {"id": t.type_id, "name": t.name, "duration": t.duration, "color": t.color}
            for t in catalog.APPOINTMENT_TYPES
        ],
        "appointmentRooms": [
            {"id": c.room_id, "name": c.name, "position": c.position} for c in catalog.COLUMNS
        ],
        "providers": [{"id": v.user_id, "name": v.name, "provider": True} for v in catalog.VETS],
        "deputyEnabled": False,
    }


def business_hours(day: date) -> tuple[int, int] | None:
    """Opening and closing minute of ``day``, or None when the clinic is closed."""
    weekday = day.weekday()
    if weekday < SATURDAY:
        return 8 * 60, 18 * 60
    if weekday == SATURDAY:
        return 9 * 60, 13 * 60
    return None


def households() -> list[Household]:
    """Clients with their pets; the first few clients own a second pet."""
    result: list[Household] = []
    clients = catalog.CLIENTS
    for index, pet in enumerate(catalog.PETS):
        client_index = index % len(clients)
        result.append(
            Household(
                client_id=FIRST_CLIENT_ID + client_index,
                client=clients[client_index],
                patient_id=FIRST_PATIENT_ID + index,
                pet=pet,
            )
        )
    return result


class _DayPlanner:
    """Lays appointments on one day's columns without overlapping each other or blocks."""

    def __init__(self, day: date, rng: random.Random) -> None:
        hours = business_hours(day)
        assert hours is not None
        self.day = day
        self.open, self.close = hours
        self.rng = rng
        self.cursor: dict[int, int] = {c.room_id: self.open for c in catalog.COLUMNS}
        self.busy: dict[int, list[tuple[int, int]]] = {c.room_id: [] for c in catalog.COLUMNS}

    def reserve(self, start: int, end: int, column: Column | None) -> None:
        columns = catalog.COLUMNS if column is None else (column,)
        for c in columns:
            self.busy[c.room_id].append((start, end))

    def place(self, kind: AppointmentType) -> tuple[Column, int, int] | None:
        if kind.name in catalog.SURGICAL_TYPES:
            candidates: list[Column] = [catalog.SURGERY_COLUMN]
        else:
            candidates = sorted(
                catalog.VET_COLUMNS, key=lambda c: (self.cursor[c.room_id], c.position)
            )
        gap = self.rng.choice((0, 0, 15, 15, 30, 45))
        for wanted_gap in (gap, 0):
            for column in candidates:
                start = self._first_free(
                    column, self.cursor[column.room_id] + wanted_gap, kind.duration
                )
                if start is not None:
                    self.cursor[column.room_id] = start + kind.duration
                    return column, start, start + kind.duration
        return None

    def _first_free(self, column: Column, start: int, duration: int) -> int | None:
        moved = True
        while moved:
            moved = False
            for busy_start, busy_end in self.busy[column.room_id]:
                if start < busy_end and start + duration > busy_start:
                    start = busy_end
                    moved = True
        return start if start + duration <= self.close else None


class _Scenario:
    """Shared machinery: placing appointments, numbering them, writing events and consultations."""

    def __init__(self, rng: random.Random, today: date) -> None:
        self.rng = rng
        self.today = today
        self.households = households()
        self.appointments: list[Appointment] = []
        self.blocks: list[dict[str, Any]] = []
        self.rosters: list[dict[str, Any]] = []
        self.line_id = FIRST_LINE_ID

    def build(self) -> Built:
        raise NotImplementedError

    # -- appointments -------------------------------------------------------------------------

    def fill_day(self, planner: _DayPlanner, count: int) -> int:
        placed = 0
        for _ in range(count):
            kind = self.rng.choices(catalog.APPOINTMENT_TYPES, catalog.TYPE_WEIGHTS)[0]
            spot = planner.place(kind) or planner.place(catalog.FOLLOW_UP)
            if spot is None:
                break
            column, start, end = spot
            vet = column.vet or self.rng.choice(catalog.VETS)
            household = self.rng.choice(self.households)
            self.appointments.append(
                Appointment(
                    start=at(planner.day, start),
                    end=at(planner.day, end),
                    column=column,
                    vet=vet,
                    kind=kind,
                    household=household,
                    reason=self.rng.choice(catalog.REASONS[kind.name]),
                )
            )
            placed += 1
        return placed

    def ordered(self) -> list[Appointment]:
        return sorted(self.appointments, key=lambda a: (a.start, a.column.position))

    # -- output -------------------------------------------------------------------------------

    def emit(self) -> Built:
        built = Built(schedule_config=schedule_config())
        consultation_id = FIRST_CONSULTATION_ID
        for offset, appt in enumerate(self.ordered()):
            appointment_id = FIRST_APPOINTMENT_ID + offset
            cid: int | None = None
            if appt.consultation_status is not None:
                cid = consultation_id
                consultation_id += 1
                built.consultations[str(cid)] = self.consultation(
                    appt, cid, cid - FIRST_CONSULTATION_ID
                )
            built.events[str(appointment_id)] = appointment_event(appointment_id, cid, appt)
        for raw in (*self.blocks, *self.rosters):
            built.events[str(raw["appointment_id"])] = raw
        return built

    def add_block(
        self,
        start: datetime,
        end: datetime,
        title: str,
        column: Column | None,
        planner: _DayPlanner | None,
    ) -> None:
        if planner is not None:
            base = at(planner.day, 0)
            minutes = (start - base) // timedelta(minutes=1), (end - base) // timedelta(minutes=1)
            planner.reserve(minutes[0], minutes[1], column)
        block_id = FIRST_BLOCK_ID + len(self.blocks)
        vet = column.vet if column is not None else None
        event: dict[str, Any] = {
            "appointment_id": block_id,
            "id": block_id,
            "consultation_id": None,
            "start": format_wall(start),
            "end": format_wall(end),
            "patient_id": None,
            "patient_name": None,
            "client_id": None,
            "first_name": None,
            "last_name": None,
            "email": None,
            "phone_number": None,
            "provider": vet.name if vet is not None else "",
            "title": title,
            "type_description": "Block",
            "reason": title,
            "current_status": "",
            "status_label": "",
            "is_block": True,
            "is_roster": False,
        }
        if column is not None:
            event["resourceId"] = str(column.room_id)
        self.blocks.append(event)

    def add_rosters(self, day: date) -> None:
        hours = business_hours(day)
        assert hours is not None
        for column in catalog.VET_COLUMNS:
            assert column.vet is not None
            roster_id = FIRST_ROSTER_ID + len(self.rosters)
            self.rosters.append(
                {
                    "appointment_id": roster_id,
                    "id": roster_id,
                    "consultation_id": None,
                    "start": format_wall(at(day, hours[0])),
                    "end": format_wall(at(day, hours[1])),
                    "patient_id": None,
                    "patient_name": None,
                    "client_id": None,
                    "first_name": None,
                    "last_name": None,
                    "email": None,
                    "phone_number": None,
                    "provider": column.vet.name,
                    "resourceId": str(column.room_id),
                    "title": f"Roster: {column.vet.name}",
                    "type_description": "Roster",
                    "reason": "",
                    "current_status": "",
                    "status_label": "",
                    "is_block": False,
                    "is_roster": True,
                }
            )

    def consultation(self, appt: Appointment, cid: int, k: int) -> dict[str, Any]:
        """Page data whose shape varies with ``k`` so every documented variant is present."""
        kind = appt.kind.name
        finished = appt.consultation_status == "completed"
        notes = self.rng.choice(catalog.NOTES[kind])
        if k % 8 == 7:
            notes = ""  # an empty note must read as "no notes"
        discharge = catalog.DISCHARGE[kind]
        consultation: dict[str, Any] = {
            "id": cid,
            "reason": appt.reason,
            "notes": notes,
            "date": format_wall(appt.start),
            "status": appt.consultation_status,
        }
        page: dict[str, Any] = {"consultation": consultation}
        if finished and k % 4 in (0, 2):
            consultation["dischargeSummary"] = discharge
        if finished and k % 4 in (1, 2):
            page["consultationNotes"] = {
                "notes": discharge if k % 4 == 1 else "See discharge summary."
            }
        page["consultationLines"] = self.lines(kind, k) if finished else []
        household = appt.household
        page["patient"] = {
            "id": household.patient_id,
            "name": household.pet.name,
            "species": household.pet.species,
            "breed": household.pet.breed,
        }
        page["client"] = {
            "id": household.client_id,
            "firstName": household.client.first_name,
            "lastName": household.client.last_name,
            "phone": household.client.phone,
            "email": household.client.email,
        }
        page["pageData"] = {
            "providers": [
                {
                    "id": appt.vet.user_id,
                    "name": appt.vet.name,
                    "email": appt.vet.email,
                    "licenseNumber": appt.vet.license_number,
                    "userType": "Veterinarian",
                    "companyId": COMPANY_NUMBER,
                }
            ]
        }
        branch_id, branch_name = catalog.BRANCHES[0]
        page["clientBranch"] = {"id": branch_id, "name": branch_name}
        return page

    def lines(self, kind: str, k: int) -> list[dict[str, Any]]:
        products = catalog.PRODUCTS[kind]
        chosen = list(products[: 1 + self.rng.randrange(len(products))])
        if k % 5 == 0:
            name, _ = chosen[0]
            chosen[0] = (name, 2)  # guarantees "(Qty: 2)" shows up even on simple visits
        declined: list[str] = []
        if k % 3 == 0:
            declined = self.rng.sample(catalog.DECLINABLE, 2 if k % 6 == 0 else 1)
        result: list[dict[str, Any]] = []
        for name, quantity in chosen:
            line: dict[str, Any] = {
                "id": self._next_line_id(),
                "productService": name,
                "quantity": int(quantity) if float(quantity).is_integer() else quantity,
            }
            if k % 2 == 0:
                line["isDeclined"] = False  # the key is optional in the real payload
            result.append(line)
        for name in declined:
            result.append(
                {
                    "id": self._next_line_id(),
                    "productService": name,
                    "quantity": 1,
                    "isDeclined": True,
                }
            )
        return result

    def _next_line_id(self) -> int:
        self.line_id += 1
        return self.line_id - 1


def appointment_event(
    appointment_id: int, consultation_id: int | None, appt: Appointment
) -> dict[str, Any]:
    household = appt.household
    client = household.client
    event: dict[str, Any] = {
        "appointment_id": appointment_id,
        "id": appointment_id,
        "consultation_id": consultation_id,
        "start": format_wall(appt.start),
        "end": format_wall(appt.end),
        "patient_id": household.patient_id,
        "patient_name": household.pet.name,
        "client_id": household.client_id,
        "first_name": client.first_name,
        "last_name": client.last_name,
        "email": client.email,
        "phone_number": client.phone,
        "provider": appt.vet.name,
        "resourceId": str(appt.column.room_id),
        "title": f"{household.pet.name}; {client.last_name}, {client.first_name}",
        "type_description": appt.kind.name,
        "reason": appt.reason,
    }
    if appt.status is not None:
        event["current_status"] = appt.status
    if appt.status_label is not None:
        event["status_label"] = appt.status_label
    event["is_block"] = False
    event["is_roster"] = False
    return event


def _set(appt: Appointment, status: str, consultation: str | None = None) -> None:
    appt.status = status
    appt.status_label = status
    appt.consultation_status = consultation


class _DefaultScenario(_Scenario):
    """About a hundred appointments over the two weeks around today, with every oddity."""

    PAST_DAYS = 8
    FUTURE_DAYS = 14

    def build(self) -> Built:
        today = self.today
        all_day = next(
            d for d in (today + timedelta(days=n) for n in range(7, 14)) if d.weekday() < SATURDAY
        )
        vet_out = next(
            d
            for d in (today + timedelta(days=n) for n in range(3, 14))
            if d.weekday() < SATURDAY and d != all_day
        )
        for n in range(-self.PAST_DAYS, self.FUTURE_DAYS + 1):
            day = today + timedelta(days=n)
            if business_hours(day) is None:
                continue
            if day == all_day:
                self.add_block(
                    at(day, 0), at(day, 24 * 60), "Clinic closed: CE training day", None, None
                )
                continue
            planner = _DayPlanner(day, self.rng)
            self._day_blocks(day, planner, vet_out)
            self.add_rosters(day)
            self.fill_day(planner, self._count(day))
        self._midnight_emergency()
        self._assign_statuses()
        return self.emit()

    def _count(self, day: date) -> int:
        saturday = day.weekday() == SATURDAY
        if day < self.today:
            return 3 if saturday else 7
        if day == self.today:
            return 3 if saturday else 6
        return 3 if saturday else 5

    def _day_blocks(self, day: date, planner: _DayPlanner, vet_out: date) -> None:
        if day.weekday() >= SATURDAY:
            return
        okafor = catalog.VET_COLUMNS[2]
        self.add_block(at(day, 12 * 60), at(day, 13 * 60), "Lunch", okafor, planner)
        if day.weekday() == 2:
            self.add_block(at(day, 8 * 60), at(day, 8 * 60 + 30), "Staff meeting", None, planner)
        if day == vet_out:
            muller = catalog.VET_COLUMNS[1]
            self.add_block(
                at(day, 13 * 60), at(day, 18 * 60), "Dr. Müller out: conference", muller, planner
            )

    def _midnight_emergency(self) -> None:
        yesterday = self.today - timedelta(days=1)
        household = self.households[14]  # Søren, so the midnight event also carries an accent
        self.appointments.append(
            Appointment(
                start=at(yesterday, 23 * 60 + 15),
                end=at(yesterday, 24 * 60 + 45),
                column=catalog.SURGERY_COLUMN,
                vet=catalog.VETS[1],
                kind=catalog.SURGERY,
                household=household,
                reason="Emergency: gastric dilatation-volvulus",
            )
        )

    def _assign_statuses(self) -> None:
        ordered = self.ordered()
        past = [a for a in ordered if a.start.date() < self.today]
        todays = [a for a in ordered if a.start.date() == self.today]
        future = [a for a in ordered if a.start.date() > self.today]
        midnight = [a for a in past if a.end.date() > a.start.date()]

        for appt in past:
            _set(appt, "Finalized", "completed")
        ordinary = [a for a in past if a not in midnight]
        specials = self.rng.sample(ordinary, 9)
        for appt, status in zip(
            specials[:5], ("No Show", "No Show", "NO SHOW", "Cancelled", "Canceled"), strict=True
        ):
            _set(appt, status)
        _set(specials[5], "Completed", "completed")
        _set(specials[6], "Completed", "completed")
        _set(specials[7], "Ready to Pay", "completed")
        # current_status empty: the label must win ("first non-empty").
        specials[8].status = ""
        specials[8].status_label = "Finalized"

        today_cycle = (
            "Finalized",
            "Finalized",
            "In Progress",
            "Checked In",
            "Arrived",
            "Confirmed",
        )
        for index, appt in enumerate(todays):
            status = today_cycle[index] if index < len(today_cycle) else "Scheduled"
            if index >= len(todays) - 1 and index >= 2:
                status = "Not Arrived"
            consultation = {"Finalized": "completed", "In Progress": "in_progress"}.get(status)
            _set(appt, status, consultation)

        for index, appt in enumerate(future):
            _set(appt, "Confirmed" if index % 3 == 0 else "Scheduled")
        if len(future) >= 8:
            picks = self.rng.sample(future, 4)
            _set(picks[0], "Cancelled")
            _set(picks[1], "Canceled")
            for appt in picks[2:]:
                appt.status = None  # neither status field: the feed means "Scheduled"
                appt.status_label = None


class _ScaleScenario(_Scenario):
    """300 appointments over the 14 days ending today, 150 of them finalized with consultations."""

    DAYS = 14
    TOTAL = 300
    FINALIZED = 150
    OTHER_STATUSES = ("No Show", "Cancelled", "Confirmed", "Not Arrived", "Canceled", "Scheduled")

    def build(self) -> Built:
        days = [self.today - timedelta(days=n) for n in range(self.DAYS - 1, -1, -1)]
        open_days = [d for d in days if business_hours(d) is not None]
        planners = {d: _DayPlanner(d, self.rng) for d in open_days}
        # 14 consecutive days always hold ten weekdays and two Saturdays: 10 * 27 + 2 * 15 = 300.
        for day in open_days:
            self.fill_day(planners[day], 15 if day.weekday() == SATURDAY else 27)
        missing = self.TOTAL - len(self.appointments)
        for day in open_days:
            if missing <= 0:
                break
            missing -= self.fill_day(planners[day], missing)
        if len(self.appointments) != self.TOTAL:
            raise RuntimeError("scale scenario could not place 300 appointments")
        self._assign_statuses()
        return self.emit()

    def _assign_statuses(self) -> None:
        ordered = self.ordered()
        noon = at(self.today, 12 * 60)
        eligible = [i for i, a in enumerate(ordered) if a.start < noon]
        finalized = set(self.rng.sample(eligible, self.FINALIZED))
        others = 0
        for index, appt in enumerate(ordered):
            if index in finalized:
                _set(appt, "Finalized", "completed")
            elif appt.start >= noon:
                _set(appt, "Scheduled")
            else:
                _set(appt, self.OTHER_STATUSES[others % len(self.OTHER_STATUSES)])
                others += 1
