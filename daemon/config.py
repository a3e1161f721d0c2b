"""Configuration from the environment (contract §2.3), parsed once into a typed object.

A bad value raises :class:`ConfigError` naming the variable and the rule; the CLI turns that into
one line on stderr and exit code 2. Secret values are never echoed back in an error.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")

DEFAULT_DATABASE_URL = "sqlite:///./pims-sync.db"
DEFAULT_TEST_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
MIN_ENCRYPTION_KEY_LENGTH = 32
#: One label of a host name (RFC 1123): letters, digits and inner hyphens, 1 to 63 of them.
HOST_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
#: ``REPLICA_ID`` is the replica's name in ``replicas.id``, lease owners, ``/health`` and every
#: log line: printable, no spaces or control characters (an escape sequence in it reached
#: terminals and log viewers), and short. Long enough for a Linux host name (64) plus a pid.
REPLICA_ID_MAX = 128
REPLICA_ID = re.compile(rf"[A-Za-z0-9._:-]{{1,{REPLICA_ID_MAX}}}", re.ASCII)
REPLICA_ID_RULE = f"must be 1 to {REPLICA_ID_MAX} characters of A-Z a-z 0-9 . _ : -"
#: Longest part of a refused value repeated in its error.
SHOWN_MAX = 80
SECRET_VARIABLES = frozenset(
    {"PIMS_ENCRYPTION_KEY", "PIMS_ENCRYPTION_KEY_PREVIOUS", "AXIOM_API_TOKEN", "DATABASE_URL"}
)


class ConfigError(ValueError):
    def __init__(self, variable: str, rule: str, value: str | None = None) -> None:
        shown = "" if value is None or variable in SECRET_VARIABLES else f" (got {value!r})"
        super().__init__(f"{variable}: {rule}{shown}")
        self.variable = variable
        self.rule = rule


def normalise_database_url(url: str) -> str:
    """Accept the URLs hosting platforms hand out and select the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


@dataclass(frozen=True)
class Settings:
    # repr=False: a DATABASE_URL may carry the database's password.
    database_url: str = field(default=DEFAULT_DATABASE_URL, repr=False)
    auto_migrate: bool = True
    host: str = "0.0.0.0"
    port: int = 3001
    encryption_key: str | None = field(default=None, repr=False)
    previous_encryption_keys: tuple[str, ...] = field(default=(), repr=False)
    enable_scheduler: bool = True
    config_poll_interval_s: float = 300.0
    browser_pool_size: int = 2
    chromium_path: str | None = None
    shutdown_grace_s: float = 25.0
    sync_wait_max_s: float = 55.0
    api_rate_limit_per_min: int = 60
    axiom_api_token: str | None = field(default=None, repr=False)
    axiom_dataset: str = "pims-sync"
    axiom_url: str = "https://api.axiom.co"
    log_level: str = "INFO"
    log_format: str = "json"
    # -- replicas (several daemons on one PostgreSQL; see README "Replicas") --
    replica_id: str = field(default_factory=lambda: default_replica_id({}))
    lease_ttl_s: float = 30.0
    enable_leases: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        return _Parser(os.environ if env is None else env).settings()


class _Parser:
    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env

    def raw(self, name: str) -> str | None:
        value = self.env.get(name)
        if value is None or value.strip() == "":
            return None
        return value.strip()

    def get(self, name: str, default: T, convert: Callable[[str], T]) -> T:
        value = self.raw(name)
        return default if value is None else convert(value)

    def boolean(self, name: str, default: bool) -> bool:
        def convert(value: str) -> bool:
            lowered = value.lower()
            if lowered in ("true", "1", "yes", "on"):
                return True
            if lowered in ("false", "0", "no", "off"):
                return False
            raise ConfigError(name, "must be true or false", value)

        return self.get(name, default, convert)

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        def convert(value: str) -> int:
            try:
                number = int(value)
            except ValueError:
                raise ConfigError(name, f"must be an integer from {low} to {high}", value) from None
            if not low <= number <= high:
                raise ConfigError(name, f"must be an integer from {low} to {high}", value)
            return number

        return self.get(name, default, convert)

    def seconds(self, name: str, default: float, low: float, high: float) -> float:
        def convert(value: str) -> float:
            try:
                number = float(value)
            except ValueError:
                raise ConfigError(
                    name, f"must be a number of seconds from {low:g} to {high:g}", value
                ) from None
            if not low <= number <= high:
                raise ConfigError(
                    name, f"must be a number of seconds from {low:g} to {high:g}", value
                )
            return number

        return self.get(name, default, convert)

    def choice(self, name: str, default: str, choices: tuple[str, ...], upper: bool) -> str:
        def convert(value: str) -> str:
            normalised = value.upper() if upper else value.lower()
            if normalised not in choices:
                raise ConfigError(name, f"must be one of {', '.join(choices)}", value)
            return normalised

        return self.get(name, default, convert)

    def database_url(self) -> str:
        url = normalise_database_url(self.raw("DATABASE_URL") or DEFAULT_DATABASE_URL)
        if not (url.startswith("sqlite") or url.startswith("postgresql+psycopg://")):
            raise ConfigError(
                "DATABASE_URL", "must be a sqlite:/// or postgres(ql)://, postgresql+psycopg:// URL"
            )
        return url

    def encryption_keys(self) -> tuple[str | None, tuple[str, ...]]:
        key = self.raw("PIMS_ENCRYPTION_KEY")
        if key is not None and len(key) < MIN_ENCRYPTION_KEY_LENGTH:
            raise ConfigError(
                "PIMS_ENCRYPTION_KEY",
                f"must be at least {MIN_ENCRYPTION_KEY_LENGTH} characters "
                "(e.g. the output of `openssl rand -base64 32`)",
            )
        previous_raw = self.raw("PIMS_ENCRYPTION_KEY_PREVIOUS")
        previous = tuple(k.strip() for k in (previous_raw or "").split(",") if k.strip())
        for old in previous:
            if len(old) < MIN_ENCRYPTION_KEY_LENGTH:
                raise ConfigError(
                    "PIMS_ENCRYPTION_KEY_PREVIOUS",
                    f"every comma-separated key must be at least {MIN_ENCRYPTION_KEY_LENGTH} "
                    "characters",
                )
        return key, previous

    def host(self) -> str:
        """``HOST``: an IP address or a host name (checked here, so a typo is refused before
        anything starts; a name that does not resolve is reported when the listener binds)."""
        value = self.raw("HOST") or "0.0.0.0"
        try:
            ipaddress.ip_address(value)
            return value
        except ValueError:
            pass
        if len(value) > 253 or not all(HOST_LABEL.fullmatch(label) for label in value.split(".")):
            raise ConfigError("HOST", "must be an IP address or a host name", value)
        return value

    def url(self, name: str, default: str) -> str:
        value = self.raw(name) or default
        if not value.startswith(("http://", "https://")):
            raise ConfigError(name, "must be an http:// or https:// URL", value)
        return value.rstrip("/")

    def replicas(self, database_url: str) -> tuple[str, float, bool]:
        """``REPLICA_ID``, ``LEASE_TTL_S`` and ``ENABLE_LEASES`` (true by default on PostgreSQL;
        leases need PostgreSQL, so asking for them on SQLite is refused)."""
        on_postgres = database_url.startswith("postgresql")
        enable = self.boolean("ENABLE_LEASES", on_postgres)
        if enable and not on_postgres:
            raise ConfigError(
                "ENABLE_LEASES", "leases need PostgreSQL (SQLite runs exactly one daemon)"
            )
        replica_id = self.raw("REPLICA_ID") or default_replica_id(self.env)
        if not REPLICA_ID.fullmatch(replica_id):
            shown = replica_id if len(replica_id) <= SHOWN_MAX else replica_id[:SHOWN_MAX] + "…"
            raise ConfigError("REPLICA_ID", REPLICA_ID_RULE, shown)
        return replica_id, self.seconds("LEASE_TTL_S", 30.0, 2.0, 3600.0), enable

    def settings(self) -> Settings:
        key, previous = self.encryption_keys()
        database_url = self.database_url()
        replica_id, lease_ttl_s, enable_leases = self.replicas(database_url)
        return Settings(
            replica_id=replica_id,
            lease_ttl_s=lease_ttl_s,
            enable_leases=enable_leases,
            database_url=database_url,
            auto_migrate=self.boolean("AUTO_MIGRATE", True),
            host=self.host(),
            port=self.integer("PORT", 3001, 0, 65535),
            encryption_key=key,
            previous_encryption_keys=previous,
            enable_scheduler=self.boolean("ENABLE_SCHEDULER", True),
            config_poll_interval_s=self.seconds("CONFIG_POLL_INTERVAL_S", 300.0, 1.0, 86400.0),
            browser_pool_size=self.integer("BROWSER_POOL_SIZE", 2, 1, 32),
            chromium_path=self.raw("CHROMIUM_PATH"),
            shutdown_grace_s=self.seconds("SHUTDOWN_GRACE_S", 25.0, 0.0, 3600.0),
            sync_wait_max_s=self.seconds("SYNC_WAIT_MAX_S", 55.0, 0.0, 3600.0),
            api_rate_limit_per_min=self.integer("API_RATE_LIMIT_PER_MIN", 60, 1, 1_000_000),
            axiom_api_token=self.raw("AXIOM_API_TOKEN"),
            axiom_dataset=self.raw("AXIOM_DATASET") or "pims-sync",
            axiom_url=self.url("AXIOM_URL", "https://api.axiom.co"),
            log_level=self.choice("LOG_LEVEL", "INFO", LOG_LEVELS, upper=True),
            log_format=self.choice("LOG_FORMAT", "json", ("json", "text"), upper=False),
        )


def default_replica_id(env: Mapping[str, str]) -> str:
    """Railway's replica id when it gives one, else host name + pid (unique on one machine).

    Made to fit ``REPLICA_ID``'s rule: a default must never stop start-up, and a host name
    may hold characters the rule refuses (or, off Linux, be longer). The pid is kept whole.
    """
    railway = _fitting((env.get("RAILWAY_REPLICA_ID") or "").strip(), REPLICA_ID_MAX)
    if railway:
        return railway
    pid = f"-{os.getpid()}"
    return _fitting(socket.gethostname(), REPLICA_ID_MAX - len(pid)) + pid


def _fitting(name: str, length: int) -> str:
    """``name`` with each run of characters outside ``REPLICA_ID``'s set made one ``-``, cut
    to ``length``."""
    return re.sub(r"[^A-Za-z0-9._:-]+", "-", name, flags=re.ASCII)[:length]
