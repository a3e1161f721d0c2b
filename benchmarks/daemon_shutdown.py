"""SIGTERM with every clinic's cases sync stuck on a slow PIMS and an inbound sync queued behind
it: seconds from the signal to the process's exit, against the contract's bound
(``SHUTDOWN_GRACE_S`` + 10 s)."""

from __future__ import annotations

import signal
import time

from daemon_harness import bench

CLINICS = 10
GRACE_S = 5


def main() -> None:
    with bench(latency_ms=1500) as (harness, _simulator):
        harness.seed(CLINICS, schedules=False)
        harness.start(SHUTDOWN_GRACE_S=str(GRACE_S), BROWSER_POOL_SIZE="1")
        for key in harness.keys:
            harness.trigger(key, "cases", {"parallelBatchSize": 1}, asynchronous=True)
            harness.trigger(key, "inbound", asynchronous=True)
        time.sleep(3)  # the cases syncs are under way (logins, first slow requests)
        running = harness.health()["runningSyncs"]
        sent = time.monotonic()
        harness.process.signal(signal.SIGTERM)
        code = harness.process.wait(120)
        took = time.monotonic() - sent
        print(f"SIGTERM with {CLINICS} clinics, {running} syncs running, {CLINICS} queued")
        bound = GRACE_S + 10
        print(f"  exit code {code} after {took:5.1f} s (bound {bound} s, grace {GRACE_S} s)")


if __name__ == "__main__":
    main()
