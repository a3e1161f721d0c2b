"""What pims-sync assumes about ezyVet's API, in one place (``ezyvet.md``).

Facts marked *unverified* come only from public client code, not from ezyVet's own pages: when a
real site says otherwise, the line to change is here.
"""

from __future__ import annotations

DEFAULT_BASE_URL = "https://api.ezyvet.com"
TRIAL_BASE_URL = "https://api.trial.ezyvet.com"

TOKEN_PATH = "/v1/oauth/access_token"
GRANT_TYPE = "client_credentials"
#: One string of comma-separated names (unverified separator).
SCOPE = ",".join(
    (
        "read-appointment",
        "read-appointmentstatus",
        "read-appointmenttype",
        "read-resource",
        "read-consult",
        "read-assessment",
        "read-history",
        "read-invoiceline",
        "read-animal",
        "read-species",
        "read-breed",
        "read-contact",
        "read-contactdetail",
        "read-contactdetailtype",
    )
)
#: Tokens live 12 hours; ``expires_in`` is not trusted (a documented example says 14 days).
TOKEN_MAX_AGE_S = 12 * 3600.0
#: Renewed this long before that age, so that a sync never starts on a token about to die.
TOKEN_RENEW_MARGIN_S = 300.0

#: Items per page pims-sync asks for (unverified maximum).
PAGE_LIMIT = 200
#: Ids per ``in`` filter.
MAX_IN_IDS = 100

#: Rate limits (unverified numbers): requests per window, per endpoint and per site.
RATE_LIMIT_PER_ENDPOINT = 60
RATE_LIMIT_PER_SITE = 180
RATE_WINDOW_S = 60.0
#: A sync that would wait longer than this in all for the rate limit fails (``RateLimited``).
MAX_RATE_LIMIT_WAIT_S = 600.0

#: Appointment ``duration`` is in seconds (unverified; the end is ``start_at + duration``).
DURATION_UNIT_S = 1
#: History entries carry their text in ``comments`` (unverified name).
HISTORY_TEXT_FIELD = "comments"
#: A contact detail is a phone when its type's name contains one of these words.
PHONE_TYPE_WORDS = ("phone", "mobile")


class Resource:
    """An endpoint: its metrics/pacing name, its path and the key each list item is wrapped in."""

    __slots__ = ("key", "name", "path")

    def __init__(self, name: str, path: str, key: str | None = None) -> None:
        self.name = name
        self.path = path
        self.key = key or name

    def __repr__(self) -> str:
        return f"Resource({self.name!r})"


APPOINTMENT = Resource("appointment", "/v2/appointment")
APPOINTMENT_STATUS = Resource("appointmentstatus", "/v1/appointmentstatus")
APPOINTMENT_TYPE = Resource("appointmenttype", "/v1/appointmenttype")
RESOURCE = Resource("resource", "/v1/resource")
CONSULT = Resource("consult", "/v1/consult")
ASSESSMENT = Resource("assessment", "/v1/assessment")
HISTORY = Resource("history", "/v1/history")
#: The products of a consult (unverified endpoint).
INVOICE_LINE = Resource("invoiceline", "/v1/invoiceline")
ANIMAL = Resource("animal", "/v1/animal")
SPECIES = Resource("species", "/v1/species")
BREED = Resource("breed", "/v1/breed")
CONTACT = Resource("contact", "/v1/contact")
CONTACT_DETAIL = Resource("contactdetail", "/v1/contactdetail")
CONTACT_DETAIL_TYPE = Resource("contactdetailtype", "/v1/contactdetailtype")
