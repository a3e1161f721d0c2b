"""The token: issued once, cached in the session store, shared, renewed once on a 401."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from providers.base import AuthenticationFailed, MemorySessionStore
from providers.ezyvet.simulator import EzyVetSimulator
from tests.ezyvet.conftest import TODAY, credentials, fetch_all, make, run


def test_a_fresh_token_is_requested_once_and_cached_without_secrets(sim: EzyVetSimulator) -> None:
    made = make(sim.url)

    async def go() -> bool:
        async with made.provider as provider:
            await provider.authenticate(made.creds)
            await provider.fetch_appointments(TODAY, TODAY)
            return provider.is_authenticated()

    assert run(go()) is True
    stats = sim.stats()
    assert stats["tokens_issued"] == 1 and stats["access_token"] == 1
    assert made.store.state is not None
    state = json.loads(made.store.state)
    assert "demo-secret" not in made.store.state and "demo-client" not in made.store.state
    assert state["token"] and made.store.expires_at is not None
    assert "Token(" in repr(made.provider.client.tokens.current)  # type: ignore[union-attr]
    assert state["token"] not in repr(made.provider.client.tokens.current)  # type: ignore[union-attr]


def test_the_cached_token_serves_a_second_provider_instance(sim: EzyVetSimulator) -> None:
    store = MemorySessionStore()
    creds = credentials()
    first, second = make(sim.url, store=store, creds=creds), make(sim.url, store=store, creds=creds)
    one = run(fetch_all(first, TODAY - timedelta(days=1), TODAY))
    two = run(fetch_all(second, TODAY - timedelta(days=1), TODAY))
    assert one == two and len(one[0]) > 5
    assert sim.stats()["tokens_issued"] == 1


def test_other_credentials_never_use_a_cached_token(sim: EzyVetSimulator) -> None:
    store = MemorySessionStore()
    run(fetch_all(make(sim.url, store=store, creds=credentials("site-a")), TODAY, TODAY))
    run(fetch_all(make(sim.url, store=store, creds=credentials("site-b")), TODAY, TODAY))
    assert sim.stats()["tokens_issued"] == 2


def test_a_token_revoked_mid_run_is_renewed_once_and_the_fetch_completes(
    sim: EzyVetSimulator,
) -> None:
    start = TODAY - timedelta(days=7)
    expected = run(fetch_all(make(sim.url), start, TODAY))
    sim.reset()
    store = MemorySessionStore()
    creds = credentials()
    run(fetch_all(make(sim.url, store=store, creds=creds), TODAY, TODAY))  # cache a token
    sim.reset()
    # Served: one call, then every live token dies while the lookups are in flight.
    sim.revoke_tokens(after_calls=1)
    got = run(fetch_all(make(sim.url, store=store, creds=creds), start, TODAY))
    assert got == expected
    stats = sim.stats()
    assert stats["unauthorized"] >= 2, stats  # several requests met the 401 ...
    assert stats["tokens_issued"] == 1  # ... and shared one renewal


def test_a_wrong_secret_fails_once_without_a_retry_loop(sim: EzyVetSimulator) -> None:
    made = make(sim.url, creds=credentials(secret="not-the-secret"))

    async def go() -> list[str]:
        codes = []
        async with made.provider as provider:
            for _ in range(2):
                with pytest.raises(AuthenticationFailed) as caught:
                    await provider.authenticate(made.creds)
                codes.append(caught.value.code)
                assert "not-the-secret" not in str(caught.value)
        return codes

    assert run(go()) == ["pims_auth_failed", "pims_auth_failed"]
    stats = sim.stats()
    # The second authenticate builds a new client: one request each, never a loop.
    assert stats["access_token"] == 2 and stats["token_failures"] == 2
    assert stats["tokens_issued"] == 0 and made.store.state is None


def test_a_401_on_a_freshly_issued_token_is_an_auth_failure(sim: EzyVetSimulator) -> None:
    sim.set_faults(token_expire_after=0)  # every token is refused
    made = make(sim.url)

    async def go() -> str:
        async with made.provider as provider:
            await provider.authenticate(made.creds)
            with pytest.raises(AuthenticationFailed) as caught:
                await provider.fetch_appointments(TODAY, TODAY)
            return caught.value.code

    assert run(go()) == "pims_auth_failed"
    assert sim.stats()["tokens_issued"] == 2  # the first one and one renewal, no loop
