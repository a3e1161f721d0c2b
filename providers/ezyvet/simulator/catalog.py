"""The fixed vocabulary of the simulated ezyVet site. Everything here is invented.

Status and type names are the site's own, as on a real site: some the word rules map
("Checked Out", "DNA", "Waiting Room"), some they must leave alone ("Arrival Pending" is not
"arrived"), and one a clinic would override ("Ready for Pickup").
"""

from __future__ import annotations

# id, name, active
STATUSES: tuple[tuple[int, str, bool], ...] = (
    (1, "Booked", True),
    (2, "Confirmed", True),
    (3, "Reminder Sent", True),
    (4, "Waiting Room", True),
    (5, "In Consult", True),
    (6, "Admitted", True),
    (7, "Checked Out", True),
    (8, "Invoiced", True),
    (9, "Discharged", True),
    (10, "Consult Complete", True),
    (11, "DNA", True),
    (12, "No-Show", True),
    (13, "Cancelled by Client", True),
    (14, "Ready for Pickup", True),
    (15, "Arrival Pending", True),
    (16, "Old Status", False),
)
BOOKED, CONFIRMED, REMINDED, WAITING, IN_CONSULT, ADMITTED = 1, 2, 3, 4, 5, 6
CHECKED_OUT, INVOICED, DISCHARGED, COMPLETE = 7, 8, 9, 10
DNA, NO_SHOW, CANCELLED, READY_FOR_PICKUP, ARRIVAL_PENDING = 11, 12, 13, 14, 15
FINALIZED_STATUSES = (CHECKED_OUT, INVOICED, DISCHARGED, COMPLETE)

# id, name, minutes
TYPES: tuple[tuple[int, str, int], ...] = (
    (1, "Consultation", 15),
    (2, "Vaccination", 15),
    (3, "Recheck", 15),
    (4, "Surgery", 60),
    (5, "Dental", 45),
    (6, "Emergency", 30),
    (7, "Lunch Break", 60),
    (8, "Staff Meeting", 30),
    (9, "Vet Unavailable", 240),
    (10, "Admin Time", 120),
)
CONSULTATION, VACCINATION, RECHECK, SURGERY, DENTAL, EMERGENCY = 1, 2, 3, 4, 5, 6
LUNCH, MEETING, UNAVAILABLE, ADMIN_TIME = 7, 8, 9, 10
VISIT_TYPES = (CONSULTATION, VACCINATION, RECHECK, SURGERY, DENTAL, EMERGENCY)
VISIT_WEIGHTS = (40, 25, 15, 8, 7, 5)

# id, name, type
RESOURCES: tuple[tuple[int, str, str], ...] = (
    (1, "Dr. Aroha Ngata", "User"),
    (2, "Dr. Liam O'Brien", "User"),
    (3, "Dr. Søren Dahl", "User"),
    (4, "Consult Room 1", "Room"),
    (5, "Surgery Theatre", "Room"),
)
VETS = (1, 2, 3)

SPECIES: tuple[tuple[int, str], ...] = ((1, "Canine"), (2, "Feline"), (3, "Rabbit"), (4, "Avian"))
# id, name, species id
BREEDS: tuple[tuple[int, str, int], ...] = (
    (1, "Labrador Retriever", 1),
    (2, "Border Collie", 1),
    (3, "Huntaway", 1),
    (4, "Domestic Shorthair", 2),
    (5, "Maine Coon", 2),
    (6, "Holland Lop", 3),
    (7, "Cockatiel", 4),
)
DETAIL_TYPES: tuple[tuple[int, str], ...] = (
    (1, "Email"),
    (2, "Mobile"),
    (3, "Home Phone"),
    (4, "Fax"),
)
EMAIL, MOBILE, HOME_PHONE, FAX = 1, 2, 3, 4

FIRST_NAMES = (
    "Zoë", "Mere", "Tomás", "Hannah", "Wiremu", "Priya", "Søren", "Lucía", "Aiden", "Mai",
    "Grace", "Nguyễn", "Oliver", "Aroha", "Chloé", "Rawiri", "Isla", "Mateo", "Ava", "Kiri",
)  # fmt: skip
LAST_NAMES = (
    "Peña", "Tane", "Müller", "O'Connor", "Walker", "Singh", "Dahl", "Te Rangi", "Smith",
    "Tran", "Brown", "Nguyen", "Wilson", "Parata", "Martin", "Henare", "Taylor", "Kaur",
)  # fmt: skip
BUSINESSES = ("Harbour Police K9 Unit", "Green Acres Farm Ltd", "Westside Animal Rescue")
PET_NAMES = (
    "Biscuit", "Luna", "Max", "Pōhutukawa", "Milo", "Bella", "Kōwhai", "Charlie", "Coco",
    "Rocky", "Nala", "Ziggy", "Pepper", "Ollie", "Maple", "Tui", "Smokey", "Jasper",
)  # fmt: skip

REASONS = {
    CONSULTATION: ("Itchy skin", "Limping on left hind", "Not eating", "Ear infection"),
    VACCINATION: ("Annual booster", "Puppy second vaccination", "Kennel cough vaccine"),
    RECHECK: ("Recheck ear", "Suture removal", "Weight check"),
    SURGERY: ("Spay", "Neuter", "Lump removal"),
    DENTAL: ("Dental scale and polish", "Broken tooth"),
    EMERGENCY: ("Hit by car", "Ate chocolate", "Bloat"),
}
ASSESSMENT_NOTES = (
    "Bright, alert, responsive. Heart and lungs normal on auscultation.",
    "Mild dental tartar; discussed home care with the owner.",
    "Pruritus over dorsum for two weeks; flea dirt found.",
    "Temperature 38.9 °C, mild dehydration; started fluids.",
    "Left hind lameness grade 2/5; cruciate drawer test negative.",
    "Wound clean and dry, sutures intact.",
)
HISTORY_COMMENTS = (
    "Owner reports reduced appetite since Tuesday.",
    "Discharged with written instructions; recheck in 10 days.",
    "Phoned owner with blood results: all within normal limits.",
    "Owner to monitor for vomiting overnight.",
)
PRODUCTS = (
    ("Consultation fee", 1),
    ("Meloxicam 1.5 mg/ml oral suspension", 10),
    ("Amoxicillin 250 mg tablet", 14),
    ("Nobivac DHPPi vaccine", 1),
    ("Revolution Plus 5-10 kg", 1),
    ("Hill's i/d 2 kg", 2),
    ("Cefovecin injection", 1.5),
)
