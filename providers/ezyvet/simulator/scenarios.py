"""Seeded generation of an ezyVet site's records, in native (``/v2``) values.

The same (scenario, today, timezone) always yields the same records: the seed is a hash of the
three, and every random choice goes through one ``random.Random`` in a fixed order.

- ``default``: a working clinic from 7 days ago to 13 days ahead with every case the provider
  must handle (see the README's list).
- ``scale``: exactly 300 appointments over the 14 days ending today, 150 of them finalized with
  consults (each with assessments, history entries and invoice lines).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from providers.ezyvet.simulator import catalog as c
from providers.simulation.seeding import check_scenario, seeded_random

SCENARIOS: tuple[str, ...] = ("default", "scale")
RESOURCES: tuple[str, ...] = (
    "appointment",
    "appointmentstatus",
    "appointmenttype",
    "resource",
    "consult",
    "assessment",
    "history",
    "invoiceline",
    "animal",
    "species",
    "breed",
    "contact",
    "contactdetail",
    "contactdetailtype",
)

FIRST_APPOINTMENT_ID = 30001
FIRST_CONSULT_ID = 60001
FIRST_ANIMAL_ID = 5001
FIRST_CONTACT_ID = 2001
#: A contact id no record has: an appointment pointing at a deleted contact.
DELETED_CONTACT_ID = 2999

Record = dict[str, Any]
Tables = dict[str, dict[int, Record]]


@dataclass
class Built:
    tables: Tables = field(default_factory=lambda: {name: {} for name in RESOURCES})
    #: Named appointments and consults the tests look for (name -> id).
    landmarks: dict[str, int] = field(default_factory=dict)


def build(scenario: str, today: date, timezone: str) -> Built:
    check_scenario(scenario, SCENARIOS)
    rng = seeded_random(f"ezyvet|{scenario}|{today.isoformat()}|{timezone}")
    builder = _Default if scenario == "default" else _Scale
    return builder(rng, today, ZoneInfo(timezone)).build()


def business_hours(day: date) -> tuple[int, int] | None:
    """Opening and closing minute of ``day``, None when closed (Mon–Fri 8–18, Sat 9–13)."""
    if day.weekday() < 5:
        return 8 * 60, 18 * 60
    if day.weekday() == 5:
        return 9 * 60, 13 * 60
    return None


class _Builder:
    ANIMALS = 40
    CONTACTS = 30

    def __init__(self, rng: random.Random, today: date, zone: ZoneInfo) -> None:
        self.rng = rng
        self.today = today
        self.zone = zone
        self.out = Built()
        self.t = self.out.tables
        self.next_ids = {name: 1 for name in RESOURCES}
        self.next_ids.update(
            appointment=FIRST_APPOINTMENT_ID,
            consult=FIRST_CONSULT_ID,
            animal=FIRST_ANIMAL_ID,
            contact=FIRST_CONTACT_ID,
        )
        self.cursor: dict[tuple[date, int], int] = {}

    def build(self) -> Built:
        raise NotImplementedError

    def add(self, resource: str, **fields: Any) -> Record:
        key = self.next_ids[resource]
        self.next_ids[resource] = key + 1
        record: Record = {"id": key, **fields}
        self.t[resource][key] = record
        return record

    def epoch(self, day: date, minutes: int) -> int:
        wall = datetime(day.year, day.month, day.day) + timedelta(minutes=minutes)
        return int(wall.replace(tzinfo=self.zone).timestamp())

    # -- lookups and people -----------------------------------------------------------------

    def lookups(self) -> None:
        for key, name, active in c.STATUSES:
            self.t["appointmentstatus"][key] = {"id": key, "name": name, "active": active}
        for key, name, _ in c.TYPES:
            self.t["appointmenttype"][key] = {"id": key, "name": name, "active": True}
        for key, name, kind in c.RESOURCES:
            self.t["resource"][key] = {"id": key, "name": name, "type": kind, "active": True}
        for key, name in c.SPECIES:
            self.t["species"][key] = {"id": key, "name": name, "active": True}
        for key, name, species in c.BREEDS:
            self.t["breed"][key] = {"id": key, "name": name, "species_id": species, "active": True}
        for key, name in c.DETAIL_TYPES:
            self.t["contactdetailtype"][key] = {"id": key, "name": name, "active": True}

    def people(self) -> None:
        rng = self.rng
        for index in range(self.CONTACTS):
            business = index % 10 == 9
            first = c.FIRST_NAMES[index % len(c.FIRST_NAMES)]
            last = c.LAST_NAMES[(index * 7) % len(c.LAST_NAMES)]
            contact = self.add(
                "contact",
                first_name="" if business else first,
                last_name="" if business else last,
                business_name=c.BUSINESSES[index // 10 % len(c.BUSINESSES)] if business else "",
                is_business=business,
                active=True,
            )
            key = contact["id"]
            phone = f"+64 21 {rng.randint(100, 999)} {rng.randint(1000, 9999)}"
            email = f"{first.lower()}.{index}@example.org"
            match index % 5:
                case 0:  # email first, then a mobile: the phone is the mobile
                    self.detail(key, c.EMAIL, email)
                    self.detail(key, c.MOBILE, phone)
                case 1:  # an old mobile switched off, then a home phone
                    self.detail(key, c.MOBILE, "+64 21 000 0000", active=False)
                    self.detail(key, c.HOME_PHONE, phone)
                case 2:  # no phone at all (a fax is not a phone)
                    self.detail(key, c.EMAIL, email)
                    self.detail(key, c.FAX, "+64 9 555 0101")
                case _:
                    self.detail(key, c.MOBILE, phone)
                    self.detail(key, c.HOME_PHONE, "+64 9 555 0199")
        contacts = sorted(self.t["contact"])
        for index in range(self.ANIMALS):
            breed_id, _, species_id = c.BREEDS[index % len(c.BREEDS)]
            # Every eleventh animal has no owner on record (a stray, a council dog).
            owner = None if index % 11 == 10 else contacts[index % len(contacts)]
            self.add(
                "animal",
                name=c.PET_NAMES[index % len(c.PET_NAMES)],
                species_id=species_id,
                breed_id=breed_id,
                contact_id=owner,
                active=True,
            )

    def detail(self, contact: int, kind: int, value: str, *, active: bool = True) -> None:
        self.add(
            "contactdetail",
            contact_id=contact,
            contact_detail_type_id=kind,
            value=value,
            active=active,
        )

    # -- appointments -----------------------------------------------------------------------

    def weekday_after(self, days: int) -> date:
        """The first weekday at least ``days`` after today (always open, never full)."""
        day = self.today + timedelta(days=days)
        while day.weekday() >= 5:
            day += timedelta(days=1)
        return day

    def place(self, day: date, vet: int, minutes: int) -> int | None:
        hours = business_hours(day)
        if hours is None:
            return None
        start = self.cursor.get((day, vet), hours[0])
        if start + minutes > hours[1]:
            return None
        self.cursor[(day, vet)] = start + minutes
        return start

    def appointment(
        self,
        day: date,
        start_minute: int,
        minutes: int,
        type_id: int,
        status_id: int,
        *,
        animal: int | None,
        contact: int | None,
        resources: list[int],
        description: str | None = None,
        active: bool = True,
    ) -> Record:
        start = self.epoch(day, start_minute)
        return self.add(
            "appointment",
            active=active,
            start_at=start,
            duration=minutes * 60,
            type_id=type_id,
            status_id=status_id,
            description=description,
            animal_id=animal,
            contact_id=contact,
            consult_id=None,
            resources=[{"id": r} for r in resources],
            modified_at=start - 86_400,
        )

    def visit(self, day: date, status_id: int, *, active: bool = True) -> Record | None:
        type_id = self.rng.choices(c.VISIT_TYPES, c.VISIT_WEIGHTS)[0]
        minutes = next(m for key, _, m in c.TYPES if key == type_id)
        vets = list(c.VETS)
        self.rng.shuffle(vets)
        for vet in vets:
            start = self.place(day, vet, minutes)
            if start is not None:
                animal = self.rng.choice(sorted(self.t["animal"]))
                owner = self.t["animal"][animal]["contact_id"]
                return self.appointment(
                    day,
                    start,
                    minutes,
                    type_id,
                    status_id,
                    animal=animal,
                    contact=owner,
                    resources=[vet],
                    description=self.rng.choice(c.REASONS[type_id]),
                    active=active,
                )
        return None

    def extra(self, day: date, minute: int, status_id: int, *, active: bool = True) -> Record:
        """A visit at a fixed time (outside the day's plan, open or not)."""
        animal = self.rng.choice(sorted(self.t["animal"]))
        return self.appointment(
            day, minute, 15, c.CONSULTATION, status_id, animal=animal,
            contact=self.t["animal"][animal]["contact_id"], resources=[4],
            description=self.rng.choice(c.REASONS[c.CONSULTATION]), active=active,
        )  # fmt: skip

    def consult(self, appointment: Record, *, active: bool = True) -> Record:
        consult = self.add(
            "consult",
            date=appointment["start_at"],
            animal_id=appointment["animal_id"],
            description=appointment["description"],
            active=active,
        )
        appointment["consult_id"] = consult["id"]
        key, start = consult["id"], int(appointment["start_at"])
        rng = self.rng
        for n in range(rng.randint(2, 3)):
            self.add(
                "assessment",
                consult_id=key,
                animal_id=appointment["animal_id"],
                notes=rng.choice(c.ASSESSMENT_NOTES),
                timestamp=start + 300 * (2 * n + 1),
                active=True,
            )
        for n in range(rng.randint(1, 2)):
            self.add(
                "history",
                consult_id=key,
                animal_id=appointment["animal_id"],
                comments=rng.choice(c.HISTORY_COMMENTS),
                date=start + 600 * (n + 1),
                active=True,
            )
        for name, quantity in rng.sample(c.PRODUCTS, rng.randint(1, 3)):
            self.add("invoiceline", consult_id=key, name=name, quantity=quantity, active=True)
        return consult


class _Default(_Builder):
    def build(self) -> Built:
        self.lookups()
        self.people()
        marks = self.out.landmarks
        yesterday = self.today - timedelta(days=1)
        later = self.weekday_after(1)
        # Blocks first, so that visits are laid around them.
        for offset in range(-7, 14):
            day = self.today + timedelta(days=offset)
            if day.weekday() < 5:
                self.appointment(
                    day, 12 * 60, 60, c.LUNCH, c.BOOKED, animal=None, contact=None,
                    resources=[1], description="Lunch",
                )  # fmt: skip
            if day.weekday() == 2:
                self.appointment(
                    day, 8 * 60, 30, c.MEETING, c.BOOKED, animal=None, contact=None,
                    resources=[], description="Weekly staff meeting",
                )  # fmt: skip
        admin = self.appointment(
            later, 14 * 60, 120, c.ADMIN_TIME, c.BOOKED,
            animal=None, contact=None, resources=[2], description="Admin: clinical audits",
        )  # fmt: skip
        marks["admin_time"] = admin["id"]
        gone = self.appointment(
            later, 8 * 60, 240, c.UNAVAILABLE, c.BOOKED,
            animal=None, contact=None, resources=[3], description="Dr. Dahl at a course",
            active=False,
        )  # fmt: skip
        marks["deleted_block"] = gone["id"]
        away = self.appointment(
            self.weekday_after(2), 13 * 60, 240, c.UNAVAILABLE, c.BOOKED,
            animal=None, contact=None, resources=[3], description="Dr. Dahl out of office",
        )  # fmt: skip
        marks["vet_unavailable"] = away["id"]
        finalized_cycle = c.FINALIZED_STATUSES
        visits = 0
        for offset in range(-7, 14):
            day = self.today + timedelta(days=offset)
            count = 6 if day.weekday() < 5 else (3 if day.weekday() == 5 else 0)
            for _ in range(count):
                if offset < 0:
                    status = finalized_cycle[visits % len(finalized_cycle)]
                    if visits % 9 == 4:
                        status = (c.DNA, c.NO_SHOW)[visits % 2]
                elif offset == 0:
                    status = (c.IN_CONSULT, c.WAITING, c.ADMITTED, c.ARRIVAL_PENDING, c.BOOKED,
                              c.CHECKED_OUT)[visits % 6]  # fmt: skip
                else:
                    status = (c.BOOKED, c.CONFIRMED, c.REMINDED)[visits % 3]
                appointment = self.visit(day, status)
                visits += 1
                if appointment is None:
                    continue
                if status in finalized_cycle and visits % 7 != 3:
                    self.consult(appointment)
                elif status in finalized_cycle:
                    marks.setdefault("finalized_without_consult", appointment["id"])

        # The cases the tests name.
        cancelled = self.extra(self.weekday_after(3), 18 * 60, c.CONFIRMED, active=False)
        marks["cancelled_inactive"] = cancelled["id"]
        by_name = self.extra(self.weekday_after(4), 18 * 60, c.CANCELLED)
        marks["cancelled_by_name"] = by_name["id"]
        pickup = self.extra(yesterday, 18 * 60, c.READY_FOR_PICKUP)
        self.consult(pickup)
        marks["ready_for_pickup"] = pickup["id"]
        inactive = self.extra(yesterday, 18 * 60 + 15, c.INVOICED)
        self.consult(inactive, active=False)
        marks["inactive_consult"] = inactive["id"]

        night = self.appointment(
            yesterday, 23 * 60 + 15, 90, c.EMERGENCY, c.DISCHARGED,
            animal=FIRST_ANIMAL_ID, contact=self.t["animal"][FIRST_ANIMAL_ID]["contact_id"],
            resources=[5, 1], description="Hit by car",
        )  # fmt: skip
        consult = self.consult(night)
        marks["midnight"] = night["id"]
        marks["midnight_consult"] = consult["id"]
        # Extra rows that must be ignored: an inactive note and a voided invoice line.
        night_start = night["start_at"]
        self.add(
            "assessment", consult_id=consult["id"], animal_id=FIRST_ANIMAL_ID,
            notes="Entered in error", timestamp=night_start + 60, active=False,
        )  # fmt: skip
        self.add(
            "invoiceline", consult_id=consult["id"], name="Voided line", quantity=1, active=False
        )

        nobody = self.appointment(
            yesterday, 17 * 60 + 30, 15, c.CONSULTATION, c.INVOICED, animal=None, contact=None,
            resources=[4], description="Phone advice, caller did not leave details",
        )  # fmt: skip
        self.consult(nobody)
        marks["no_animal_no_contact"] = nobody["id"]
        stray = next(k for k, a in self.t["animal"].items() if a["contact_id"] is None)
        orphan = self.appointment(
            later, 17 * 60, 15, c.CONSULTATION, c.BOOKED,
            animal=stray, contact=None, resources=[2], description="Stray brought in by council",
        )  # fmt: skip
        marks["animal_without_contact"] = orphan["id"]
        deleted = self.appointment(
            later, 17 * 60 + 30, 15, c.VACCINATION, c.BOOKED,
            animal=FIRST_ANIMAL_ID + 1, contact=DELETED_CONTACT_ID, resources=[2],
            description="Annual booster",
        )  # fmt: skip
        marks["deleted_contact"] = deleted["id"]
        business = next(k for k, v in self.t["contact"].items() if v["is_business"])
        dog = next(k for k, a in self.t["animal"].items() if a["contact_id"] == business)
        k9 = self.appointment(
            self.weekday_after(2), 9 * 60, 30, c.RECHECK, c.CONFIRMED, animal=dog,
            contact=business, resources=[1], description="Working dog fitness check",
        )  # fmt: skip
        marks["business_client"] = k9["id"]
        return self.out


class _Scale(_Builder):
    DAYS = 14
    TOTAL = 300
    FINALIZED = 150
    ANIMALS = 120
    CONTACTS = 90
    OTHERS = (c.DNA, c.NO_SHOW, c.CANCELLED, c.BOOKED, c.CONFIRMED, c.ARRIVAL_PENDING)

    def build(self) -> Built:
        self.lookups()
        self.people()
        days = [self.today - timedelta(days=n) for n in range(self.DAYS - 1, -1, -1)]
        open_days = [d for d in days if business_hours(d) is not None]
        appointments: list[Record] = []
        # 14 consecutive days hold ten weekdays and two Saturdays: 10 * 27 + 2 * 15 = 300.
        for day in open_days:
            for _ in range(15 if day.weekday() == 5 else 27):
                placed = self.visit(day, c.BOOKED)
                if placed is None:
                    raise RuntimeError("scale scenario: a day is too full")
                appointments.append(placed)
        if len(appointments) != self.TOTAL:
            raise RuntimeError("scale scenario could not place 300 appointments")
        past = [a for a in appointments if a["start_at"] < self.epoch(self.today, 0)]
        finalized = {id(a) for a in self.rng.sample(past, self.FINALIZED)}
        others = 0
        for appointment in appointments:
            if id(appointment) in finalized:
                status = c.FINALIZED_STATUSES[appointment["id"] % len(c.FINALIZED_STATUSES)]
                appointment["status_id"] = status
                self.consult(appointment)
            else:
                appointment["status_id"] = self.OTHERS[others % len(self.OTHERS)]
                appointment["active"] = others % 13 != 5
                others += 1
        return self.out
