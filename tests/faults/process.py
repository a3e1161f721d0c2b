"""The daemon as a real process for fault tests: seeded through the store, driven over HTTP and
signals, its output kept in files, its log lines read back as JSON."""

from __future__ import annotations

from pathlib import Path

from tests.daemon_process import DaemonProcess, daemon_env, seed_clinics

KEY = "faults-encryption-key-0123456789-abcdefghij"


def seed_clinic(
    database_url: str,
    simulator_url: str,
    name: str,
    schedules: tuple[tuple[str, str], ...] = (),
) -> tuple[str, str]:
    """A migrated database with one simulated clinic; returns (clinic id, API key)."""
    ((clinic_id, key),) = seed_clinics(
        database_url, KEY, simulator_url, [name], key_name="faults", schedules=schedules
    )
    return str(clinic_id), key


def configured_daemon(tmp: Path, database_url: str, **env: str) -> DaemonProcess:
    """A daemon (not started yet) on ``database_url`` with one browser, JSON logs at INFO, no
    config polling and no rate limit in the way; ``env`` adds or overrides settings."""
    settings = {
        "BROWSER_POOL_SIZE": "1",
        "CONFIG_POLL_INTERVAL_S": "3600",
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
        "API_RATE_LIMIT_PER_MIN": "100000",
        **env,
    }
    return DaemonProcess(tmp, daemon_env(database_url, KEY, **settings))
