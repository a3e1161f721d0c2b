"""A real Chromium logs into the simulator the way the provider will."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, async_playwright

from providers.browsers.chromium import DEBIAN_CHROMIUM, LAUNCH_FLAGS
from providers.idexx_neo.simulator import SESSION_COOKIE, SimulatorServer
from tests.simulator.conftest import TODAY, get_calendar, run

pytestmark = [pytest.mark.browser]

CHROMIUM = DEBIAN_CHROMIUM
FLAGS = list(LAUNCH_FLAGS)
NAV_TIMEOUT_MS = 15_000


async def _browser_login(
    browser: Browser, server: SimulatorServer, password: str, *, company: bool = True
) -> dict[str, Any]:
    context = await browser.new_context()
    page = await context.new_page()
    page.set_default_timeout(NAV_TIMEOUT_MS)
    # networkidle settles only if the page keeps no connection open.
    await page.goto(f"{server.url}/login", wait_until="networkidle")
    if company:
        await page.fill('input[name="company_id"]', "demo-clinic")
    await page.fill('input[name="username"]', "demo")
    await page.fill('input[name="password"]', password)
    await page.click('button[type="submit"]')
    await page.wait_for_load_state("networkidle")
    shell = await page.query_selector("#dashboard_shell")
    error = await page.query_selector(".error-message")
    result = {
        "url": page.url,
        "cookies": await context.cookies(),
        "has_shell": shell is not None,
        "error": (await error.inner_text()) if error is not None else None,
        "has_code_input": await page.query_selector('input[name="code"]') is not None,
        "branches": len(await page.query_selector_all(".branch-option")),
    }
    if shell is not None:
        # The reference client fetched from inside the page; that works too.
        result["in_page_fetch"] = await page.evaluate(
            """async (query) => {
                const r = await fetch('/appointments/getCalendarEventData?' + query,
                    {credentials: 'include', headers: {Accept: 'application/json'}});
                return {status: r.status, body: await r.json()};
            }""",
            f"start={TODAY}%2000%3A00%3A00&end={TODAY}%2023%3A59%3A59",
        )
    await context.close()
    return result


def test_browser_login_sets_the_cookie_and_lands_on_the_dashboard(
    server: SimulatorServer,
) -> None:
    async def scenario() -> None:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
            try:
                good = await _browser_login(browser, server, "demo-password")
                bad = await _browser_login(browser, server, "not-the-password")
            finally:
                await browser.close()

        assert good["has_shell"] and good["error"] is None
        assert "/login" not in good["url"]
        assert good["in_page_fetch"]["status"] == 200 and good["in_page_fetch"]["body"]
        session_cookies = [c for c in good["cookies"] if c["name"] == SESSION_COOKIE]
        assert len(session_cookies) == 1 and session_cookies[0]["httpOnly"] is True

        assert not bad["has_shell"]
        assert bad["error"] and "password" in bad["error"].lower()
        assert "/login" in bad["url"]
        assert not any(c["name"] == SESSION_COOKIE for c in bad["cookies"])

        # The browser's cookie is all an HTTP client needs to read the JSON endpoints.
        headers = {
            "Cookie": f"{SESSION_COOKIE}={session_cookies[0]['value']}",
            "Accept": "application/json",
            "X-Requested-With": "XMLHttpRequest",
        }
        async with aiohttp.ClientSession() as session:
            status, events = await get_calendar(session, server, headers, TODAY)
        assert status == 200 and len(events) > 5

    run(scenario())
    stats = server.stats()
    assert stats["logins"] == 1 and stats["login_failures"] == 1


def test_browser_meets_the_tenants_we_must_detect(server: SimulatorServer) -> None:
    async def scenario() -> dict[str, dict[str, Any]]:
        results: dict[str, dict[str, Any]] = {}
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
            try:
                for tenant in ("second_factor", "branch_picker", "no_company"):
                    server.set_faults(tenant=tenant)
                    results[tenant] = await _browser_login(
                        browser, server, "demo-password", company=tenant != "no_company"
                    )
            finally:
                await browser.close()
        return results

    results = run(scenario())
    second, picker, no_company = (
        results["second_factor"],
        results["branch_picker"],
        results["no_company"],
    )
    assert second["has_code_input"] and not second["has_shell"] and second["error"] is None
    assert picker["branches"] >= 2 and not picker["has_shell"] and picker["error"] is None
    for stuck in (second, picker):
        assert not any(c["name"] == SESSION_COOKIE for c in stuck["cookies"])
    assert no_company["has_shell"]
    assert any(c["name"] == SESSION_COOKIE for c in no_company["cookies"])
