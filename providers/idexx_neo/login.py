"""Logging into IDEXX Neo with a real browser, and the session that comes out of it.

:func:`login_job` builds the coroutine a browser lease runs on the pool's loop: it fills Neo's
login form in a fresh browser context, decides what the page that follows means, and returns the
cookies as plain data. Every wait has a timeout (Neo pages must never be awaited to "network
idle"), the context is always closed, and neither the password nor a cookie value ever reaches
an exception message or a log line.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from providers.base import (
    AuthenticationFailed,
    BranchPickerShown,
    BrowserUnavailable,
    Credentials,
    PimsUnavailable,
    SecondFactorRequired,
    SessionLost,
)
from providers.idexx_neo.client import USER_AGENT

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext, Locator, Page, Request

# Playwright is imported where a login runs, not with this module: a sync on a cached session
# (the provider imports this module) must not pay for loading it. A login runs on a browser
# lease, so by then the pool has loaded it anyway.

log = logging.getLogger("pims_sync.auth")

COMPANY_FIELD = 'input[name="company_id"]'
USERNAME_FIELD = 'input[name="username"]'
PASSWORD_FIELD = 'input[name="password"]'
SUBMIT_BUTTON = 'button[type="submit"]'

DASHBOARD = "#dashboard_shell"
ERROR_BANNER = ".error-message, .alert-danger"
SECOND_FACTOR = 'input[name="code"], input[name="otp"]'
BRANCH_PICKER = '#branch_picker, .branch-picker, .branch-option, [name="branch_id"]'
# Any of these tells us how the login went; the page that shows one is the one to judge.
OUTCOME = ", ".join((DASHBOARD, ERROR_BANNER, SECOND_FACTOR, BRANCH_PICKER))

# Neo sessions last hours when used; we never trust one longer than this without asking Neo.
MAX_SESSION_AGE = timedelta(hours=8)


@dataclass(frozen=True, slots=True)
class LoginTimeouts:
    page_s: float = 15.0  # one page load (the login page, the page after submitting)
    step_s: float = 10.0  # one action on a page (find a field, fill it, click)
    outcome_s: float = 15.0  # from the click to a page that says how the login went
    # The whole login, whatever it waits on: Playwright gives opening a context or a page
    # and reading the cookies no timeout of their own, and a login that never ends would
    # hold its browser lease, and its clinic's sync, for ever.
    whole_s: float = 120.0


@dataclass(frozen=True, slots=True)
class SessionState:
    """What survives a login: the cookies of the Neo site, as plain data."""

    base_url: str
    cookies: list[dict[str, Any]] = field(repr=False)
    created_at: datetime

    def expires_at(self) -> datetime:
        """The earliest expiry of a session cookie, capped at :data:`MAX_SESSION_AGE`."""
        limit = self.created_at + MAX_SESSION_AGE
        for cookie in self.cookies:
            expires = cookie.get("expires")
            if _is_session_cookie(cookie) and isinstance(expires, int | float) and expires > 0:
                limit = min(limit, datetime.fromtimestamp(expires, UTC))
        return limit

    def to_json(self) -> str:
        return json.dumps(
            {
                "version": 1,
                "base_url": self.base_url,
                "created_at": self.created_at.isoformat(),
                "cookies": self.cookies,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> SessionState | None:
        """``None`` for anything unreadable: a bad cache only costs one login."""
        try:
            raw = json.loads(text)
            cookies = raw["cookies"]
            if raw.get("version") != 1 or not isinstance(cookies, list):
                return None
            if not all(isinstance(c, dict) and isinstance(c.get("name"), str) for c in cookies):
                return None
            return cls(
                base_url=str(raw["base_url"]),
                cookies=cookies,
                created_at=datetime.fromisoformat(raw["created_at"]),
            )
        except (ValueError, TypeError, KeyError):
            return None


def _is_login_path(path: str) -> bool:
    """``/login`` and the steps under it (``/login/verify``, ``/login/branch``)."""
    return path.rstrip("/").endswith("/login") or "/login/" in path


def _is_session_cookie(cookie: dict[str, Any]) -> bool:
    return "session" in str(cookie.get("name", "")).lower()


def login_job(
    base_url: str, credentials: Credentials, timeouts: LoginTimeouts | None = None
) -> Callable[[Browser], Awaitable[SessionState]]:
    """The job to hand to a browser lease: ``state = await lease.run(login_job(...))``."""
    limits = timeouts or LoginTimeouts()
    base = base_url.rstrip("/")

    async def job(browser: Browser) -> SessionState:
        try:
            login = log_in(browser, base, credentials, limits)
            return await asyncio.wait_for(login, limits.whole_s)
        except TimeoutError:
            raise PimsUnavailable(
                f"IDEXX Neo login did not finish within {limits.whole_s:g} s"
            ) from None

    return job


async def log_in(
    browser: Browser, base_url: str, credentials: Credentials, timeouts: LoginTimeouts
) -> SessionState:
    from playwright.async_api import Error as PlaywrightError

    started = time.monotonic()
    context = await browser.new_context(
        user_agent=USER_AGENT, locale="en-US", viewport={"width": 1280, "height": 800}
    )
    try:
        context.set_default_timeout(timeouts.step_s * 1000)
        context.set_default_navigation_timeout(timeouts.page_s * 1000)
        page = await context.new_page()
        # Every page the browser is sent to, redirects included: a login that reached a page
        # past the login form and was then sent back had its session ended by Neo.
        visited: list[str] = []

        def on_request(request: Request) -> None:
            if request.is_navigation_request() and request.frame == page.main_frame:
                visited.append(urlsplit(request.url).path)

        page.on("request", on_request)
        await _submit_form(page, base_url, credentials, timeouts)
        state = await _judge(page, context, base_url, credentials, timeouts, visited)
        log.info(
            "logged into IDEXX Neo",
            extra={"seconds": round(time.monotonic() - started, 3), "cookies": len(state.cookies)},
        )
        return state
    finally:
        # Bounded: a browser too stuck to close a context must not hold the login past its
        # end (the pool notices a dead browser; a stuck one is closed when it is retired).
        with suppress(PlaywrightError, TimeoutError):
            await asyncio.wait_for(context.close(), timeouts.step_s)


@asynccontextmanager
async def _step(what: str, browser: Browser) -> AsyncIterator[None]:
    """Turn Playwright's failures into ours, naming the step but never its values."""
    from playwright.async_api import Error as PlaywrightError
    from playwright.async_api import TimeoutError as PlaywrightTimeout

    try:
        yield
    except PlaywrightTimeout:
        raise PimsUnavailable(f"IDEXX Neo login timed out while {what}") from None
    except PlaywrightError as error:
        if not browser.is_connected():
            raise BrowserUnavailable(f"the browser died while {what}") from None
        network = re.search(r"net::ERR_[A-Z_]+", error.message or "")
        detail = f" ({network.group(0)})" if network else ""
        raise PimsUnavailable(f"IDEXX Neo login failed while {what}{detail}") from None


async def _submit_form(
    page: Page, base_url: str, credentials: Credentials, timeouts: LoginTimeouts
) -> None:
    from playwright.async_api import TimeoutError as PlaywrightTimeout

    browser = page.context.browser
    assert browser is not None
    async with _step("opening the login page", browser):
        # "domcontentloaded", not "networkidle": a page that keeps a connection open would
        # otherwise hold the login until its timeout.
        await page.goto(f"{base_url}/login", wait_until="domcontentloaded")
    async with _step("waiting for the login form", browser):
        await page.wait_for_selector(
            USERNAME_FIELD, state="visible", timeout=timeouts.page_s * 1000
        )
    async with _step("filling the login form", browser):
        company = page.locator(COMPANY_FIELD)
        # Some tenants have no company field: fill it only where it exists.
        company_id = credentials.get("company_id")
        if company_id and await company.count() > 0:
            await company.first.fill(company_id)
        await page.locator(USERNAME_FIELD).first.fill(credentials.require("username"))
        await page.locator(PASSWORD_FIELD).first.fill(credentials.require("password"))
    async with _step("submitting the login form", browser):
        try:
            # Judge the page the form leads to, not the form itself (which would still match
            # "the login page" if we looked too early).
            async with page.expect_navigation(
                wait_until="domcontentloaded", timeout=timeouts.outcome_s * 1000
            ):
                await page.locator(SUBMIT_BUTTON).first.click()
        except PlaywrightTimeout:
            pass  # no navigation (a script-driven login?): judge the page as it stands


async def _judge(
    page: Page,
    context: BrowserContext,
    base_url: str,
    credentials: Credentials,
    timeouts: LoginTimeouts,
    visited: list[str],
) -> SessionState:
    from playwright.async_api import Error as PlaywrightError
    from playwright.async_api import TimeoutError as PlaywrightTimeout

    browser = context.browser
    assert browser is not None
    marker_seen = True
    try:
        await page.wait_for_selector(
            f"{OUTCOME}, {USERNAME_FIELD}", state="visible", timeout=timeouts.outcome_s * 1000
        )
    except PlaywrightTimeout:
        marker_seen = False  # an unknown landing page: judge by URL and cookies alone
    except PlaywrightError:
        if not browser.is_connected():
            raise BrowserUnavailable("the browser died while waiting for the login") from None
        marker_seen = False
    async with _step("reading the page after login", browser):
        # Visible ones only: pages often carry an empty, hidden error banner as a placeholder.
        banner = page.locator(ERROR_BANNER).filter(visible=True)
        if await _count(banner, timeouts) > 0:
            reason = await banner.first.inner_text()
            raise AuthenticationFailed(
                f"IDEXX Neo rejected the login: {_scrub(reason, credentials)}"
            )
        if await _count(page.locator(SECOND_FACTOR).filter(visible=True), timeouts) > 0:
            raise SecondFactorRequired("IDEXX Neo asks for a second factor (a one-time code)")
        if await _count(page.locator(BRANCH_PICKER).filter(visible=True), timeouts) > 0:
            raise BranchPickerShown("IDEXX Neo asks to choose a branch after login")
        cookies = [dict(c) for c in await context.cookies([base_url])]
    on_login_page = urlsplit(page.url).path.rstrip("/").endswith("/login")
    if any(_is_session_cookie(c) for c in cookies) and not on_login_page:
        return SessionState(base_url=base_url, cookies=cookies, created_at=datetime.now(UTC))
    if not marker_seen:
        raise PimsUnavailable(f"IDEXX Neo did not finish the login within {timeouts.outcome_s:g} s")
    if on_login_page and any(not _is_login_path(path) for path in visited):
        # Neo accepted the login and let the browser past the form, then sent it back: the
        # session died right after the login. The password is right; do not send the operator
        # to change it.
        raise SessionLost("IDEXX Neo ended the session right after the login")
    # Back on the login form without a reason, or landed without a session cookie. Treated as
    # a rejection, not an outage: retrying unknown-bad credentials on every sync gets accounts
    # locked.
    raise AuthenticationFailed("IDEXX Neo showed the login page again without giving a reason")


async def _count(locator: Locator, timeouts: LoginTimeouts) -> int:
    """``locator.count()`` within one step's time. Playwright gives ``count`` no timeout of its
    own, and while a navigation is still pending (a landing page that never answers) it waits
    for the new document for as long as that takes."""
    from playwright.async_api import TimeoutError as PlaywrightTimeout

    try:
        return await asyncio.wait_for(locator.count(), timeouts.step_s)
    except TimeoutError:
        raise PlaywrightTimeout("counting elements timed out") from None


def _scrub(reason: str, credentials: Credentials) -> str:
    """The banner is Neo's text; keep it short and make sure it echoes none of our secrets."""
    text = " ".join(reason.split())[:200]
    for secret in credentials.values():
        if secret:
            text = text.replace(secret, "***")
    return text or "no reason given"
