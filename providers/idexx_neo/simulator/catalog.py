"""The fixed vocabulary the simulated clinic draws from: staff, columns, types, people, products.

Everything here is invented. Names deliberately include accents and apostrophes so that
encoding bugs show up in tests instead of in production.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Vet:
    user_id: int
    name: str
    email: str
    license_number: str


@dataclass(frozen=True)
class Column:
    """A calendar column (IDEXX calls them rooms; clinics often name them after a vet)."""

    room_id: int
    name: str
    position: int
    vet: Vet | None  # the vet who owns the column; None for shared rooms


@dataclass(frozen=True)
class AppointmentType:
    type_id: int
    name: str
    duration: int  # minutes
    color: str


@dataclass(frozen=True)
class PetTemplate:
    name: str
    species: str
    breed: str


@dataclass(frozen=True)
class ClientTemplate:
    first_name: str
    last_name: str
    phone: str
    email: str | None


VETS: tuple[Vet, ...] = (
    Vet(101, "Dr. Inés Peña", "ines.pena@clinic.example", "CA-VET-20481"),
    Vet(102, "Dr. Samuel Müller", "samuel.muller@clinic.example", "CA-VET-19377"),
    Vet(103, "Dr. Aisha Okafor", "aisha.okafor@clinic.example", "CA-VET-22910"),
)

VET_COLUMNS: tuple[Column, ...] = (
    Column(9, "Dr. Peña", 1, VETS[0]),
    Column(10, "Dr. Müller", 2, VETS[1]),
    Column(11, "Dr. Okafor", 3, VETS[2]),
)
SURGERY_COLUMN = Column(12, "Surgery Suite", 4, None)
COLUMNS: tuple[Column, ...] = (*VET_COLUMNS, SURGERY_COLUMN)

EXAM = AppointmentType(1, "Exam", 30, "#4f8bd6")
VACCINES = AppointmentType(2, "Vaccines", 15, "#5cb85c")
FOLLOW_UP = AppointmentType(3, "Follow-up", 15, "#f0ad4e")
SICK = AppointmentType(4, "Sick", 30, "#d9534f")
DENTAL = AppointmentType(5, "Dental", 60, "#9b59b6")
SURGERY = AppointmentType(6, "Surgery", 90, "#34495e")
APPOINTMENT_TYPES: tuple[AppointmentType, ...] = (EXAM, VACCINES, FOLLOW_UP, SICK, DENTAL, SURGERY)
# Weighted so that a day looks like a day in general practice: mostly short consults.
TYPE_WEIGHTS: tuple[int, ...] = (30, 25, 15, 18, 6, 6)
SURGICAL_TYPES = frozenset({DENTAL.name, SURGERY.name})

REASONS: dict[str, tuple[str, ...]] = {
    EXAM.name: ("Annual wellness exam", "New puppy exam", "Senior wellness check", "Itchy skin"),
    VACCINES.name: (
        "DHPP booster",
        "Rabies vaccine due",
        "FVRCP booster",
        "Bordetella for boarding",
    ),
    FOLLOW_UP.name: (
        "Recheck ear infection",
        "Suture removal",
        "Recheck weight",
        "Recheck bloodwork",
    ),
    SICK.name: ("Vomiting since yesterday", "Limping on left hind", "Not eating", "Coughing"),
    DENTAL.name: ("Dental cleaning", "Broken tooth", "Dental cleaning and extractions"),
    SURGERY.name: ("Spay", "Neuter", "Mass removal", "Cystotomy"),
}

NOTES: dict[str, tuple[str, ...]] = {
    EXAM.name: (
        "Bright, alert, responsive. Weight stable. Heart and lungs auscultate normally. "
        "Mild dental tartar noted; discussed home care.",
        "Pruritus over dorsum for two weeks. Flea dirt found. Started on flea prevention; "
        "recheck in three weeks if not improving.",
    ),
    VACCINES.name: (
        "Vaccines administered SQ, no immediate reaction. Owner advised of possible "
        "lethargy for 24 hours.",
        "Pre-vaccination exam unremarkable. Booster given in right hind limb.",
    ),
    FOLLOW_UP.name: (
        "Ear canals clean, cytology negative. Discontinue otic medication.",
        "Incision healed well. Sutures removed without complication.",
    ),
    SICK.name: (
        "Three episodes of vomiting, no blood. Mild abdominal discomfort on palpation. "
        "Started on maropitant and bland diet.",
        "Grade 2/5 lameness left hind, drawer sign negative. Rest and NSAIDs for seven days.",
    ),
    DENTAL.name: (
        "Full-mouth radiographs taken. Scaled and polished. Extracted 108 (slab fracture). "
        "Recovered smoothly from anaesthesia.",
    ),
    SURGERY.name: (
        "Routine procedure under general anaesthesia, no complications. Recovered well.",
        "Mass excised with 1 cm margins, submitted for histopathology.",
    ),
}

DISCHARGE: dict[str, str] = {
    EXAM.name: "Continue current diet. Call us if itching worsens.",
    VACCINES.name: "Mild soreness at the injection site is normal for 1–2 days.",
    FOLLOW_UP.name: "No further rechecks needed unless symptoms return.",
    SICK.name: "Offer small bland meals for 48 hours. Call if vomiting continues.",
    DENTAL.name: "Soft food for 7 days. Give pain medication with food twice daily.",
    SURGERY.name: "Keep the e-collar on for 10–14 days. Limit activity; no baths.",
}

# (product or service, usual quantity); quantities other than 1 exercise the "(Qty: N)" format.
PRODUCTS: dict[str, tuple[tuple[str, float], ...]] = {
    EXAM.name: (("Physical examination", 1), ("Ear cytology", 1), ("Simparica Trio 10–20 kg", 3)),
    VACCINES.name: (("Office visit", 1), ("DHPP vaccine", 1), ("Rabies vaccine (3 yr)", 1)),
    FOLLOW_UP.name: (("Recheck examination", 1), ("Suture removal", 1)),
    SICK.name: (
        ("Sick patient examination", 1),
        ("Maropitant 16 mg tablets", 4),
        ("Carprofen 75 mg tablets", 14),
        ("Radiographs — 2 views", 2),
    ),
    DENTAL.name: (
        ("Dental prophylaxis", 1),
        ("Anaesthesia — per 15 min", 4),
        ("Dental radiographs", 1),
        ("Clindamycin oral solution (ml)", 0.5),
    ),
    SURGERY.name: (
        ("Surgical procedure", 1),
        ("Anaesthesia — per 15 min", 6),
        ("IV fluids", 1),
        ("E-collar", 1),
    ),
}
DECLINABLE: tuple[str, ...] = (
    "Senior bloodwork panel",
    "Heartworm test (4Dx)",
    "Microchip implant",
    "Fecal flotation",
    "Nail trim",
)

PETS: tuple[PetTemplate, ...] = (
    PetTemplate("Biscuit", "Canine", "Labrador Retriever"),
    PetTemplate("Zoë", "Feline", "Domestic Shorthair"),
    PetTemplate("Luna", "Canine", "Border Collie"),
    PetTemplate("Chloé", "Feline", "Maine Coon"),
    PetTemplate("Max", "Canine", "Golden Retriever"),
    PetTemplate("Pepita", "Canine", "Chihuahua"),
    PetTemplate("Milo", "Feline", "Siamese"),
    PetTemplate("Bruno", "Canine", "French Bulldog"),
    PetTemplate("Nala", "Canine", "Mixed Breed"),
    PetTemplate("Oliver", "Feline", "Domestic Longhair"),
    PetTemplate("Kiwi", "Lagomorph", "Holland Lop"),
    PetTemplate("Rocky", "Canine", "Dachshund"),
    PetTemplate("Cleo", "Feline", "Bengal"),
    PetTemplate("Bella", "Canine", "Cavalier King Charles Spaniel"),
    PetTemplate("Søren", "Canine", "German Shepherd"),
    PetTemplate("Mochi", "Feline", "Ragdoll"),
    PetTemplate("Toby", "Canine", "Beagle"),
    PetTemplate("Frida", "Canine", "Xoloitzcuintli"),
    PetTemplate("Gizmo", "Canine", "Shih Tzu"),
    PetTemplate("Hazel", "Feline", "Domestic Shorthair"),
    PetTemplate("Ziggy", "Canine", "Australian Shepherd"),
    PetTemplate("Pumpkin", "Feline", "Domestic Shorthair"),
    PetTemplate("Duke", "Canine", "Boxer"),
    PetTemplate("Olive", "Canine", "Miniature Poodle"),
)

CLIENTS: tuple[ClientTemplate, ...] = (
    ClientTemplate("Alex", "Doe", "555-010-0001", "alex.doe@example.test"),
    ClientTemplate("Zoë", "Müller", "(555) 010-0002", "zoe.mueller@example.test"),
    ClientTemplate("José", "Peña", "+1 555 010 0003", "jose.pena@example.test"),
    ClientTemplate("Siobhán", "O'Brien", "555.010.0004", "siobhan.obrien@example.test"),
    ClientTemplate("Minh", "Nguyễn", "5550100005", None),
    ClientTemplate("Renée", "Dubois", "555-010-0006", "renee.dubois@example.test"),
    ClientTemplate("Lars", "Østergaard", "555 010 0007", "lars@example.test"),
    ClientTemplate("Priya", "Raman", "(555) 010-0008", "priya.raman@example.test"),
    ClientTemplate("Agnieszka", "Kowalczyk", "555-010-0009", ""),
    ClientTemplate("Mateo", "García", "555-010-0010 ext. 2", "mateo.garcia@example.test"),
    ClientTemplate("Hannah", "Schröder", "555-010-0011", "hannah.s@example.test"),
    ClientTemplate("Kwame", "Mensah", "555-010-0012", "kwame.mensah@example.test"),
    ClientTemplate("Chloe", "Smith-Jones", "+15550100013", "chloe.sj@example.test"),
    ClientTemplate("Björn", "Lindqvist", "555-010-0014", "bjorn.l@example.test"),
    ClientTemplate("Ana", "Conceição", "555-010-0015", "ana.conceicao@example.test"),
    ClientTemplate("Yuki", "Tanaka", "555-010-0016", "yuki.tanaka@example.test"),
    ClientTemplate("François", "Lefèvre", "555-010-0017", "f.lefevre@example.test"),
    ClientTemplate("Noah", "Williams", "555-010-0018", "noah.w@example.test"),
)

BRANCHES: tuple[tuple[int, str], ...] = ((1, "Main Street Hospital"), (2, "Eastside Clinic"))
