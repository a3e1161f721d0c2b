"""Resident memory of a daemon serving 20 clinics of one provider: ezyVet (REST, no browser)
against IDEXX Neo (a Chromium pool).

For each provider: a fresh SQLite database with 20 clinics pointed at that provider's simulator
(credentials stored; ezyVet clinics get opening hours in their settings since ezyVet gives
none), a real ``pims-sync run``, one cases sync per clinic so that every clinic has worked once,
then the daemon's RSS, the PSS of every Chromium descended from it (the pool's browsers carry
``MARKER_SWITCH``; their renderers and helpers are their children) and the number of Chromium
processes.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

from daemon_harness import KEY, Bench, bench_env, proc_status

from daemon.store import Database, SecretBox, Store
from daemon.store.migrate import upgrade
from providers.browsers.chromium import MARKER_SWITCH

CLINICS = 20
TIMEZONE = "America/Los_Angeles"
EZYVET_HOURS: dict[str, dict[str, object]] = {
    "0": {"enabled": False, "open": "00:00", "close": "00:00"},
    **{str(day): {"enabled": True, "open": "08:00", "close": "18:00"} for day in range(1, 6)},
    "6": {"enabled": True, "open": "09:00", "close": "13:00"},
}
CREDENTIALS = {
    "idexx-neo": {"username": "demo", "password": "demo-password", "company_id": "demo-clinic"},
    "ezyvet": {
        "partner_id": "demo-partner",
        "client_id": "demo-client",
        "client_secret": "demo-secret",
    },
}


def seed(harness: Bench, provider: str) -> None:
    url = harness.database_url
    db = Database(url)
    upgrade(db.engine)
    store = Store(db, SecretBox(KEY))
    for index in range(CLINICS):
        clinic = store.clinics.add(
            name=f"Clinic {index:03d}",
            timezone=TIMEZONE,
            provider=provider,
            base_url=harness.simulator_url,
        )
        fields = dict(CREDENTIALS[provider])
        if provider == "ezyvet":
            # One ezyVet site per clinic, as in real life: the provider paces each site alone.
            fields["site_uid"] = f"site-{index:03d}"
        store.credentials.set(clinic.id, provider=provider, fields=fields)
        if provider == "ezyvet":
            store.clinics.update(clinic.id, daily_hours=EZYVET_HOURS)
        _view, key = store.keys.create(clinic.id, name="bench")
        harness.keys.append(key)
        harness.clinic_ids.append(str(clinic.id))
    db.dispose()
    harness.env = bench_env(url)


def children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        tree.setdefault(int(fields[1]), []).append(int(entry.name))
    return tree


def descendants(pid: int, tree: dict[int, list[int]]) -> Iterator[int]:
    for child in tree.get(pid, []):
        yield child
        yield from descendants(child, tree)


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def pss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def chromium_of(daemon_pid: int) -> list[int]:
    """Every process of every pool browser the daemon launched (browser, renderers, helpers)."""
    tree = children()
    found: set[int] = set()
    for pid in descendants(daemon_pid, tree):
        if MARKER_SWITCH in cmdline(pid):
            found.add(pid)
            found.update(descendants(pid, tree))
    return sorted(found)


def measure(provider: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        if provider == "ezyvet":
            from providers.ezyvet.simulator import EzyVetSimulator

            # Twenty clinics share one simulator here (one ezyVet site each in real life): its
            # rate limits are lifted so that the figures are memory, not 429 waits.
            ezyvet = EzyVetSimulator(
                timezone=TIMEZONE, rate_limit_per_min=100_000, site_rate_limit_per_min=100_000
            ).start()
            stack.callback(ezyvet.stop)
            url = ezyvet.url
        else:
            from providers.idexx_neo.simulator import SimulatorServer

            url = stack.enter_context(SimulatorServer()).url
        harness = Bench(Path(tmp), url)
        stack.callback(harness.stop)
        seed(harness, provider)
        started = time.perf_counter()
        harness.start()
        statuses: dict[str, int] = {}
        for key in harness.keys:
            status = str(harness.trigger(key, "cases").get("status"))
            statuses[status] = statuses.get(status, 0) + 1
        worked = time.perf_counter() - started
        time.sleep(3)  # let the last sync's allocations settle before reading the figures
        pid = harness.process.pid
        rss = proc_status(pid)["rss_bytes"]
        browsers = chromium_of(pid)
        pss = sum(pss_bytes(child) for child in browsers)
        summary = ", ".join(f"{count} {status}" for status, count in sorted(statuses.items()))
        print(f"  {provider}: {CLINICS} cases syncs in {worked:.1f} s ({summary})", flush=True)
        return {"rss": rss, "pss": pss, "chromium": len(browsers), "total": rss + pss}


def main() -> None:
    print(f"daemon memory, {CLINICS} clinics of one provider, after one cases sync each")
    results = {provider: measure(provider) for provider in ("ezyvet", "idexx-neo")}
    print(
        f"{'provider':<10} {'daemon RSS':>12} {'Chromium PSS':>14} {'Chromium procs':>15} "
        f"{'total':>10}"
    )
    for provider, figures in results.items():
        print(
            f"{provider:<10} {figures['rss'] / 2**20:8.1f} MiB {figures['pss'] / 2**20:10.1f} MiB "
            f"{int(figures['chromium']):15d} {figures['total'] / 2**20:6.1f} MiB"
        )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
