"""`pims-sync run` refuses to start when stored credentials cannot be opened (contract §2.3:
the key is required once any credential exists; a bad value stops start-up with one line)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from providers.idexx_neo.simulator import SimulatorServer
from tests.daemon_process import free_port, run_cli
from tests.e2e.deployment import KEY, PASSWORD, Deployment, e2e_env

OTHER_KEY = "another-encryption-key-not-the-one-0123456789"


def environment(tmp: Path, **changes: str | None) -> dict[str, str]:
    env = e2e_env(tmp, PORT=str(free_port()), LOG_FORMAT="json", SHUTDOWN_GRACE_S="1")
    env.pop("PIMS_ENCRYPTION_KEY_PREVIOUS", None)
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def store_credentials(env: dict[str, str], name: str) -> str:
    added = run_cli(
        env, "clinic", "add", "--name", name, "--base-url", "http://127.0.0.1:9", "--json"
    )
    assert added.returncode == 0, added.stderr
    clinic_id: str = json.loads(added.stdout)["id"]
    stored = run_cli(
        env,
        "credentials", "set", "--clinic", clinic_id, "--username", "demo",
        "--password-stdin",
        stdin=PASSWORD,
    )  # fmt: skip
    assert stored.returncode == 0, stored.stderr
    return clinic_id


@pytest.fixture
def stored(tmp_path: Path) -> Path:
    """A database with one clinic whose credentials were stored with ``KEY``."""
    env = environment(tmp_path)
    assert run_cli(env, "migrate").returncode == 0
    store_credentials(env, "Keyed Clinic")
    return tmp_path


@pytest.mark.parametrize(
    ("key", "rule"),
    [
        (None, "must be set"),
        (OTHER_KEY, "opens none of the 1 clinic(s)' stored PIMS credentials"),
    ],
    ids=["missing", "wrong"],
)
def test_run_stops_with_one_line_when_the_key_cannot_open_the_credentials(
    stored: Path, key: str | None, rule: str
) -> None:
    # Migrated beforehand, as a deploy that runs `pims-sync migrate` first: nothing else to say.
    env = environment(stored, PIMS_ENCRYPTION_KEY=key, AUTO_MIGRATE="false")
    done = run_cli(env, "run")
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("pims-sync: error: PIMS_ENCRYPTION_KEY: ")
    assert rule in lines[0]
    assert PASSWORD not in done.stderr and KEY not in done.stderr and OTHER_KEY not in done.stderr


def test_with_auto_migrate_the_error_is_still_one_line_and_no_traceback(stored: Path) -> None:
    done = run_cli(environment(stored, PIMS_ENCRYPTION_KEY=None), "run")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if not line.startswith("{")]
    assert errors == [done.stderr.splitlines()[-1]]
    assert errors[0].startswith("pims-sync: error: PIMS_ENCRYPTION_KEY: must be set")


def test_a_key_that_opens_some_clinics_starts_and_names_the_others(tmp_path: Path) -> None:
    env = environment(tmp_path)
    assert run_cli(env, "migrate").returncode == 0
    store_credentials(env, "Opened Clinic")
    lost = store_credentials(environment(tmp_path, PIMS_ENCRYPTION_KEY=OTHER_KEY), "Lost Clinic")
    simulator = SimulatorServer().start()
    d = Deployment(tmp_path, simulator, {**env, "BROWSER_POOL_SIZE": "1"})
    try:
        d.start()  # /ready 200: one clinic is servable
        warned = [
            json.loads(line)
            for line in d.output().splitlines()
            if line.startswith("{") and "cannot be decrypted" in line
        ]
        assert [record["clinic_id"] for record in warned] == [lost]
        assert PASSWORD not in d.output() and KEY not in d.output()
    finally:
        d.stop()
        simulator.stop()
