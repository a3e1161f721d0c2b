"""The simulator as its own process: announces itself as one JSON line, stops on SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp

from tests.simulator.conftest import run

REPO = Path(__file__).resolve().parents[2]


def test_cli_prints_json_serves_and_exits_zero_on_sigterm() -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "providers.idexx_neo.simulator",
            "--port",
            "0",
            "--json",
            "--today",
            "2026-03-04",
            "--company-id",
            "acme",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        announced = json.loads(process.stdout.readline())
        assert set(announced) == {"url", "username", "password", "companyId"}
        assert announced["username"] == "demo" and announced["password"] == "demo-password"
        assert announced["companyId"] == "acme"
        assert announced["url"].startswith("http://127.0.0.1:")

        async def probe() -> tuple[int, dict[str, str]]:
            async with (
                aiohttp.ClientSession() as session,
                session.get(f"{announced['url']}/_sim/info") as resp,
            ):
                return resp.status, await resp.json()

        status, info = run(probe())
        assert status == 200 and info["today"] == "2026-03-04"

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
        assert process.stdout.read() == ""  # exactly one line on stdout
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
