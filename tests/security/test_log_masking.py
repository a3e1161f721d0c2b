"""Secrets that reach a log line by routes the everyday masking tests do not take: objects
(not strings) in ``extra``, database URLs whose password holds a ``/``, and reprs holding
bytes. Every case goes through the real logging set-up, in both line formats."""

from __future__ import annotations

import io
from pathlib import PurePosixPath

import pytest
from yarl import URL

from daemon.config import Settings
from daemon.observability import configure_logging, get_logger

SECRET = "Zq9-hunter2-Xv"


class LoginAttempt:
    """An object of no known kind whose text carries a labelled secret."""

    def __str__(self) -> str:
        return f"LoginAttempt(user=front-desk, password={SECRET})"


def _logged(fmt: str, emit: object) -> str:
    stream = io.StringIO()
    handle = configure_logging("DEBUG", fmt, stream=stream)
    try:
        assert callable(emit)
        emit(get_logger("auth"))
    finally:
        handle.shutdown(timeout_s=5.0)
    return stream.getvalue()


EXTRA_OBJECTS = {
    "exception": RuntimeError(f"GET /login?user=a&password={SECRET} answered 401"),
    "exception-with-dict": ValueError({"password": SECRET}),
    "yarl-url": URL(f"https://front-desk:{SECRET}@neo.example.com/login"),
    "path-with-query": PurePosixPath(f"/login?password={SECRET}"),
    "object": LoginAttempt(),
}


@pytest.mark.parametrize("fmt", ["json", "text"])
@pytest.mark.parametrize("value", list(EXTRA_OBJECTS.values()), ids=list(EXTRA_OBJECTS))
def test_an_object_in_extra_is_masked_like_text(fmt: str, value: object) -> None:
    written = _logged(fmt, lambda log: log.warning("login failed", extra={"detail": value}))
    assert SECRET not in written
    assert "[REDACTED]" in written  # masked, not dropped


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_an_exception_in_extra_keeps_its_type_name(fmt: str) -> None:
    error = RuntimeError(f"password={SECRET}")
    written = _logged(fmt, lambda log: log.warning("x", extra={"detail": error}))
    assert "RuntimeError" in written
    assert SECRET not in written


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql+psycopg://pims:ab/{SECRET}@db.internal:5432/pims",  # '/' in the password
        f"postgresql://:{SECRET}@db.internal/pims",  # no user name
        f"redis://:{SECRET}@cache:6379/0",
    ],
)
@pytest.mark.parametrize("fmt", ["json", "text"])
def test_a_database_url_password_is_masked_whatever_it_holds(fmt: str, url: str) -> None:
    settings = Settings(database_url=url, encryption_key="k" * 40)
    written = _logged(
        fmt,
        lambda log: (
            log.info("settings %r", settings),
            log.info("settings", extra={"settings": settings}),
            log.info("connecting to %s", url),
        ),
    )
    assert SECRET not in written
    assert "db.internal" in written or "cache" in written  # the host is still shown


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_a_bytes_value_in_a_repr_is_masked(fmt: str) -> None:
    form = {"username": b"front-desk", "password": SECRET.encode()}
    written = _logged(fmt, lambda log: log.info("posting form %r", form))
    assert SECRET not in written
    assert "front-desk" not in written


@pytest.mark.parametrize(
    "text",
    [
        f"login failed: password={SECRET}",
        f"url: https://neo.example.com/login?user=a&password={SECRET}",
        f"detail: neo_session={SECRET}; Path=/",
        f"reason:token={SECRET}",
        f"x=password={SECRET}",
    ],
)
@pytest.mark.parametrize("fmt", ["json", "text"])
def test_a_pair_after_a_label_is_masked(fmt: str, text: str) -> None:
    written = _logged(fmt, lambda log: log.warning("%s", text))
    assert SECRET not in written
    assert "[REDACTED]" in written
