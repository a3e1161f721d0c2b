"""20 clinics triggered at once with a pool of 2 browsers: each needs a fresh login, so the pool
sets the pace. Prints the wall time against that ideal and the peak memory of the daemon plus
its browsers (target <= 1.5 GiB)."""

from __future__ import annotations

import json
import math
import threading
import time
import urllib.request
from pathlib import Path

from daemon_harness import bench, proc_status

CLINICS = 20
POOL = 2


def chromium_pss() -> int:
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if "chrom" not in (entry / "comm").read_text():
                continue
            for line in (entry / "smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


def status_of(base: str, key: str, sync_id: str) -> str:
    request = urllib.request.Request(
        f"{base}/api/sync/inbound/{sync_id}", headers={"X-API-Key": key}
    )
    with urllib.request.urlopen(request, timeout=30) as reply:
        return str(json.loads(reply.read())["status"])


def main() -> None:
    with bench() as (harness, _simulator):
        harness.seed(CLINICS + 2, schedules=False)
        harness.start(BROWSER_POOL_SIZE=str(POOL))
        # Calibration on two clinics not in the burst: one login alone, two at once (what a
        # pool of two really delivers on this machine), and a sync on a cached session.
        calibration, partner = harness.keys[0], harness.keys[1]
        started = time.perf_counter()
        harness.trigger(calibration, "inbound")
        first = time.perf_counter() - started
        started = time.perf_counter()
        harness.trigger(calibration, "inbound")
        cached = time.perf_counter() - started
        login = max(first - cached, 0.0)
        started = time.perf_counter()
        pair = [threading.Thread(target=harness.trigger, args=(partner, "inbound"))]
        for thread in pair:
            thread.start()
        harness.trigger(calibration, "cases")  # a cached-session sync alongside the login
        for thread in pair:
            thread.join()
        paired_login = max(time.perf_counter() - started - cached, login)

        peak = [0]
        stop = threading.Event()
        pid = harness.process.pid

        def sample() -> None:
            while not stop.is_set():
                peak[0] = max(peak[0], proc_status(pid)["rss_bytes"] + chromium_pss())
                stop.wait(0.25)

        sampler = threading.Thread(target=sample)
        sampler.start()
        started = time.perf_counter()
        pending = {}
        for key in harness.keys[2:]:
            reply = harness.trigger(key, "inbound", asynchronous=True)
            pending[str(reply["syncId"])] = key
        statuses: dict[str, str] = {}
        while len(statuses) < len(pending):
            for sync_id, key in pending.items():
                if sync_id not in statuses:
                    status = status_of(harness.base, key, sync_id)
                    if status not in ("queued", "running"):
                        statuses[sync_id] = status
            time.sleep(0.5)  # light polling: the daemon and simulator share 2 cores
        wall = time.perf_counter() - started
        stop.set()
        sampler.join()
        rounds = math.ceil(CLINICS / POOL)
        ideal = rounds * login + cached
        print(f"{CLINICS} clinics, inbound sync each, pool of {POOL} browsers, fresh logins")
        print(f"  one login alone {login:5.2f} s; a sync on a cached session {cached:5.2f} s")
        print(
            f"  wall {wall:6.2f} s   ideal (ceil({CLINICS}/{POOL}) x login + sync) {ideal:6.2f} s"
            f"   ratio {wall / ideal:4.2f}"
        )
        print(
            f"  per pool round: {wall / rounds:5.2f} s (one login alone: {login:5.2f} s; "
            f"a login beside other work: {paired_login:5.2f} s)"
        )
        print(f"  outcomes: {sorted(set(statuses.values()))}")
        print(
            f"  peak memory, daemon RSS + browser PSS: {peak[0] / 2**20:7.1f} MiB"
            "   (target <= 1536 MiB)"
        )


if __name__ == "__main__":
    main()
