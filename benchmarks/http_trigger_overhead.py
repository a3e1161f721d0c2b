"""Synchronous trigger overhead: a request's wall time minus its sync's ``durationMs``.

The daemon runs as a real process over SQLite against the simulator; one clinic, its session
cached by a first sync, then many small synchronous triggers one after another. What is left
after the sync's own duration is the API's part: authentication, queueing, the hop to the
clinic actor, and noticing the end (the waiter is woken, not polling). Target: ≤ 60 ms at the
median.
"""

from __future__ import annotations

import statistics
import time

from daemon_harness import bench

RUNS = 40
KINDS: tuple[tuple[str, dict[str, object]], ...] = (
    ("reconciliation", {"lookbackDays": 1}),
    ("inbound", {}),
)


def main() -> None:
    with bench() as (harness, _simulator):
        harness.seed(1, schedules=False)
        harness.start()
        key = harness.keys[0]
        harness.trigger(key, "inbound")  # logs in once; later syncs reuse the session
        for kind, body in KINDS:
            overheads, durations = [], []
            for _ in range(RUNS):
                started = time.perf_counter()
                result = harness.trigger(key, kind, body)
                wall_ms = (time.perf_counter() - started) * 1000
                duration_ms = result["durationMs"]
                assert isinstance(duration_ms, int), result
                durations.append(duration_ms)
                overheads.append(wall_ms - duration_ms)
            overheads.sort()
            print(f"synchronous {kind} trigger, {RUNS} runs (daemon process, SQLite, simulator)")
            print(f"  sync durationMs   median {statistics.median(durations):7.1f} ms")
            print(
                f"  wall - durationMs median {statistics.median(overheads):7.1f} ms   "
                f"p90 {overheads[int(RUNS * 0.9) - 1]:7.1f} ms   max {overheads[-1]:7.1f} ms"
            )
        print("target: wall - durationMs <= 60 ms at the median")


if __name__ == "__main__":
    main()
