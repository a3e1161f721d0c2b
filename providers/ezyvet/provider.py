"""The ezyVet provider: OAuth client credentials, batched reads, no browser.

One instance serves one sync. It reads the lookup tables (statuses, types, resources, species,
breeds, contact detail types) once, collects the ids it needs and asks for them with ``in``
lists, and keeps the animals and contacts it has read for the rest of the sync. The token and
the rate-limit budget outlive the instance: the token in the clinic's session store, the budget
in the process-wide pacer of the site.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, ClassVar

from providers.base import (
    Appointment,
    AuthenticationFailed,
    Consultation,
    ConsultationCallback,
    CredentialField,
    Credentials,
    NotFound,
    PimsProvider,
    ProviderContext,
    ProviderError,
    ScheduleConfig,
)
from providers.ezyvet import facts, payloads, values
from providers.ezyvet.client import ClientSettings, EzyVetClient, all_of, chunks
from providers.ezyvet.pacing import pacer_for
from providers.ezyvet.payloads import Lookups, People, Record
from providers.ezyvet.token import TokenKeeper, identity_of

log = logging.getLogger("pims_sync.pims")


@dataclass(frozen=True, slots=True)
class EzyVetSettings:
    """Timeouts, retries, pacing and token age; the defaults are the contract's."""

    client: ClientSettings = field(default_factory=ClientSettings)
    token_max_age_s: float = facts.TOKEN_MAX_AGE_S


class EzyVetProvider(PimsProvider):
    name: ClassVar[str] = "ezyvet"
    needs_browser: ClassVar[bool] = False
    credential_fields: ClassVar[tuple[CredentialField, ...]] = (
        CredentialField("partner_id", "--partner-id"),
        CredentialField("client_id", "--client-id"),
        CredentialField("client_secret", "--secret", secret=True),
        CredentialField("site_uid", "--site-uid", required=False),
    )

    def __init__(self, context: ProviderContext, settings: EzyVetSettings | None = None) -> None:
        super().__init__(context)
        self.settings = settings or EzyVetSettings()
        self.base_url = (context.base_url or facts.DEFAULT_BASE_URL).rstrip("/")
        self._client: EzyVetClient | None = None
        self._lookups: Lookups | None = None
        self._lookups_lock = asyncio.Lock()
        self._animals: dict[str, Record] = {}
        self._contacts: dict[str, Record] = {}
        self._phones: dict[str, str] = {}
        self._people_read: set[str] = set()  # contact ids whose details were read

    # -- authentication ------------------------------------------------------------------

    async def authenticate(self, credentials: Credentials) -> None:
        """Use the cached token, or request one (a wrong secret fails here, once)."""
        partner_id = credentials.require("partner_id")
        client_id = credentials.require("client_id")
        secret = credentials.require("client_secret")
        site_uid = credentials.get("site_uid") or None
        body = {
            "partner_id": partner_id,
            "client_id": client_id,
            "client_secret": secret,
            "grant_type": facts.GRANT_TYPE,
            "scope": facts.SCOPE,
        }
        if site_uid:
            body["site_uid"] = site_uid
        if self._client is not None:
            await self._client.close()
        pacing = self.settings.client.pacing
        client = EzyVetClient(
            self.base_url,
            pacer_for(self.base_url, site_uid or f"{partner_id}/{client_id}", pacing),
            max_concurrency=self.context.max_concurrency,
            settings=self.settings.client,
            observer=self.context.observer,
        )

        async def request_token() -> str:
            return await client.request_token(body)

        client.tokens = TokenKeeper(
            self.context.session_store,
            identity_of(self.base_url, partner_id, client_id, site_uid),
            request_token,
            max_age_s=self.settings.token_max_age_s,
        )
        self._client = client
        await client.tokens.token()

    def is_authenticated(self) -> bool:
        return (
            self._client is not None
            and self._client.tokens is not None
            and (self._client.tokens.current is not None)
        )

    @property
    def client(self) -> EzyVetClient:
        if self._client is None:
            raise AuthenticationFailed("ezyVet: not authenticated (call authenticate first)")
        return self._client

    # -- lookups and people --------------------------------------------------------------

    async def lookups(self) -> Lookups:
        """The lookup tables, read once per instance (concurrent callers share the read)."""
        if self._lookups is not None:
            return self._lookups
        async with self._lookups_lock:
            if self._lookups is None:
                c = self.client
                tables = await all_of(
                    *(
                        c.list_all(resource, {})
                        for resource in (
                            facts.APPOINTMENT_STATUS,
                            facts.APPOINTMENT_TYPE,
                            facts.RESOURCE,
                            facts.SPECIES,
                            facts.BREED,
                            facts.CONTACT_DETAIL_TYPE,
                        )
                    )
                )
                names = ("appointmentstatus", "appointmenttype", "resource", "species", "breed")
                statuses, types, resources, species, breeds, detail_types = (
                    payloads.by_id(table, name)
                    for table, name in zip(tables, (*names, "contactdetailtype"), strict=True)
                )
                self._lookups = Lookups(statuses, types, resources, species, breeds, detail_types)
        return self._lookups

    async def _read_animals(self, ids: Iterable[str]) -> None:
        missing = [i for i in dict.fromkeys(ids) if i not in self._animals]
        if missing:
            found = await self.client.list_in(facts.ANIMAL, "id", missing)
            self._animals.update(payloads.by_id(found, "animal"))

    async def _read_contacts(self, ids: Iterable[str]) -> None:
        """Contacts and their phones (details asked for alongside, by contact id)."""
        missing = [i for i in dict.fromkeys(ids) if i not in self._people_read]
        if not missing:
            return
        lookups, contacts, details = await all_of(
            self.lookups(),
            self.client.list_in(facts.CONTACT, "id", missing),
            self.client.list_in(facts.CONTACT_DETAIL, "contact_id", missing),
        )
        assert isinstance(lookups, Lookups)
        self._contacts.update(payloads.by_id(contacts, "contact"))  # type: ignore[arg-type]
        self._phones.update(payloads.first_phones(details, lookups.phone_type_ids()))  # type: ignore[arg-type]
        self._people_read.update(missing)

    def _people(self) -> People:
        return People(self._animals, self._contacts, self._phones)

    # -- appointments --------------------------------------------------------------------

    async def fetch_appointments(self, start: date, end: date) -> list[Appointment]:
        if end < start:
            raise ValueError("fetch_appointments: end is before start")
        zone = self.context.timezone
        first, after = payloads.range_bounds(start, end, zone)
        raw, lookups = await all_of(
            self.client.list_all(facts.APPOINTMENT, {"start_at": {"gte": first, "lt": after}}),
            self.lookups(),
        )
        assert isinstance(lookups, Lookups)
        appointments: list[Record] = raw  # type: ignore[assignment]
        animal_ids, contact_ids = [], []
        for item in appointments:
            where = f"appointment {item.get('id')}"
            if (animal := values.ident(item, "animal_id", where)) is not None:
                animal_ids.append(animal)
            if (contact := values.ident(item, "contact_id", where)) is not None:
                contact_ids.append(contact)
        await all_of(self._read_animals(animal_ids), self._read_contacts(contact_ids))
        # An appointment without a contact of its own falls back to its animal's owner.
        owners = [
            owner
            for animal in animal_ids
            if animal in self._animals
            and (owner := values.ident(self._animals[animal], "contact_id", f"animal {animal}"))
        ]
        await self._read_contacts(owners)
        people = self._people()
        result = [
            payloads.parse_appointment(item, zone, lookups, people, self.context.settings)
            for item in appointments
        ]
        result.sort(key=lambda a: (a.starts_at, a.id))
        return result

    # -- consultations ---------------------------------------------------------------------

    async def fetch_consultation(self, consultation_id: str) -> Consultation:
        if not consultation_id.strip():
            raise ValueError("fetch_consultation: empty consultation id")
        result = (await self.fetch_consultations([consultation_id]))[consultation_id]
        if isinstance(result, ProviderError):
            raise result
        return result

    async def fetch_consultations(
        self,
        consultation_ids: Sequence[str],
        on_result: ConsultationCallback | None = None,
    ) -> dict[str, Consultation | ProviderError]:
        """Batches of at most 100 ids, each answered by a few ``in`` requests; a batch that
        fails maps each of its ids to that error, and the other batches go on."""
        results: dict[str, Consultation | ProviderError] = {}

        async def batch(ids: list[str]) -> None:
            answer: Mapping[str, Consultation | ProviderError]
            try:
                answer = await self._consultation_batch(ids)
            except ProviderError as error:
                log.warning(
                    "ezyVet consult batch failed",
                    extra={**self._log_fields(), "consults": len(ids), "error_code": error.code},
                )
                answer = dict.fromkeys(ids, error)
            for consultation_id in ids:
                outcome = answer[consultation_id]
                results[consultation_id] = outcome
                if on_result is not None:
                    on_result(consultation_id, outcome)

        wanted = [i for i in dict.fromkeys(consultation_ids) if i.strip()]
        await asyncio.gather(*(batch(ids) for ids in chunks(wanted)))
        return results

    async def _consultation_batch(self, ids: list[str]) -> dict[str, Consultation | ProviderError]:
        c = self.client
        consults, assessments, histories, lines, lookups = await all_of(
            c.list_in(facts.CONSULT, "id", ids),
            c.list_in(facts.ASSESSMENT, "consult_id", ids),
            c.list_in(facts.HISTORY, "consult_id", ids),
            c.list_in(facts.INVOICE_LINE, "consult_id", ids),
            self.lookups(),
        )
        assert isinstance(lookups, Lookups)
        found = payloads.by_id(consults, "consult")  # type: ignore[arg-type]
        active = {
            key: raw for key, raw in found.items() if values.flag(raw, "active", f"consult {key}")
        }
        await self._read_animals(
            animal
            for key, raw in active.items()
            if (animal := values.ident(raw, "animal_id", f"consult {key}")) is not None
        )
        notes_a = payloads.group_by(assessments, "consult_id", "assessment")  # type: ignore[arg-type]
        notes_h = payloads.group_by(histories, "consult_id", "history")  # type: ignore[arg-type]
        products = payloads.group_by(lines, "consult_id", "invoiceline")  # type: ignore[arg-type]
        answer: dict[str, Consultation | ProviderError] = {}
        for key in ids:
            raw = active.get(key)
            if raw is None:
                # Not returned, or inactive: the PIMS says there is no such consult.
                answer[key] = NotFound(f"ezyVet consult {key} not found or inactive")
                continue
            try:
                answer[key] = payloads.parse_consultation(
                    raw,
                    notes_a.get(key, ()),
                    notes_h.get(key, ()),
                    products.get(key, ()),
                    self.context.timezone,
                    lookups,
                    self._animals,
                )
            except ProviderError as error:
                answer[key] = error
        return answer

    # -- schedule configuration ------------------------------------------------------------

    async def fetch_schedule_config(self) -> ScheduleConfig:
        """No business hours: ezyVet's are not read (the clinic's ``daily_hours`` are used)."""
        lookups = await self.lookups()
        return ScheduleConfig(
            slot_interval_minutes=None,
            business_hours=(),
            appointment_types=lookups.named_items(lookups.types, "appointmenttype"),
            rooms=lookups.named_items(lookups.resources, "resource"),
        )

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()

    def _log_fields(self) -> dict[str, Any]:
        return {"clinic_id": self.context.clinic_id, "pims": self.name}
