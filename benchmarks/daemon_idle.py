"""An idle daemon with 100 clinics: resident memory and threads (target RSS ≤ 150 MB, browsers
excluded — they are separate processes)."""

from __future__ import annotations

import time

from daemon_harness import bench, proc_status

CLINICS = 100


def main() -> None:
    with bench() as (harness, _simulator):
        harness.seed(CLINICS)
        harness.start()
        time.sleep(5)  # let start-up allocations settle before reading the figures
        status = proc_status(harness.process.pid)
        health = harness.health()
        print(f"idle daemon, {health['clinics']} clinics, {health['scheduler']} scheduler")
        print(f"  RSS      {status['rss_bytes'] / 2**20:7.1f} MiB   (target <= 150 MB)")
        print(f"  threads  {status['threads']:7d}")
        memory = health["memory"]
        assert isinstance(memory, dict)
        print(f"  browsers {memory['browserPssBytes'] / 2**20:7.1f} MiB PSS (warm-up browser)")


if __name__ == "__main__":
    main()
