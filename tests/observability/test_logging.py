from __future__ import annotations

import io
import json
import logging
import re
import threading

import pytest

from daemon.observability import (
    AxiomSettings,
    bind_context,
    configure_logging,
    get_logger,
    log_context,
)
from daemon.observability.axiom import AxiomHandler
from tests.observability.fake_axiom import FakeAxiom
from tests.observability.polling import wait_until

TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def lines(stream: io.StringIO) -> list[str]:
    return [line for line in stream.getvalue().splitlines() if line]


def test_json_lines_carry_time_level_logger_message_and_context() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream=stream)
    log = get_logger("case-sync")
    with log_context(clinic_id="c-1", sync_id="s-1", sync_type="cases", provider="idexx-neo"):
        log.info("fetched %d appointments", 12, extra={"endpoint": "getCalendarEventData"})
    log.info("outside")

    first, second = (json.loads(line) for line in lines(stream))
    assert TIME.match(first["_time"])
    assert first["level"] == "info"
    assert first["logger"] == "pims_sync.case-sync"
    assert first["message"] == "fetched 12 appointments"
    assert first["clinic_id"] == "c-1"
    assert first["sync_id"] == "s-1"
    assert first["sync_type"] == "cases"
    assert first["provider"] == "idexx-neo"
    assert first["endpoint"] == "getCalendarEventData"
    assert list(first)[:4] == ["_time", "level", "logger", "message"]
    assert "clinic_id" not in second
    assert "exception" not in second


def test_extra_fields_win_over_the_context() -> None:
    stream = io.StringIO()
    configure_logging(stream=stream)
    with log_context(clinic_id="from-context"):
        get_logger("http").info("x", extra={"clinic_id": "from-extra"})
    assert json.loads(lines(stream)[0])["clinic_id"] == "from-extra"


def test_context_reaches_lines_logged_from_a_bound_thread() -> None:
    stream = io.StringIO()
    configure_logging(stream=stream)
    with log_context(request_id="req-7"):
        worker = threading.Thread(target=bind_context(get_logger("actors").info), args=("hi",))
    worker.start()
    worker.join(timeout=10)
    assert json.loads(lines(stream)[0])["request_id"] == "req-7"


def test_json_exception_text_is_one_field_of_one_line() -> None:
    stream = io.StringIO()
    configure_logging(stream=stream)
    try:
        raise KeyError("missing")
    except KeyError:
        get_logger("store").exception("upsert failed")
    (line,) = lines(stream)
    event = json.loads(line)
    assert event["level"] == "error"
    assert "Traceback" in event["exception"]
    assert "KeyError: 'missing'" in event["exception"]


def test_text_format_is_one_readable_line() -> None:
    stream = io.StringIO()
    configure_logging("DEBUG", "text", stream=stream)
    with log_context(clinic_id="c-1"):
        get_logger("http").debug("listening on %s", ":3001", extra={"route": "/health"})
    (line,) = lines(stream)
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z DEBUG +pims_sync\.http  listening on :3001"
        r"  clinic_id=c-1 route=/health",
        line,
    ), line


def test_level_filters_lower_records() -> None:
    stream = io.StringIO()
    configure_logging("WARNING", stream=stream)
    get_logger("cli").info("quiet")
    get_logger("cli").warning("loud")
    assert [json.loads(line)["message"] for line in lines(stream)] == ["loud"]


def test_configuring_again_replaces_instead_of_duplicating() -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging(stream=first)
    configure_logging(stream=second)
    get_logger("scheduler").info("once")
    assert first.getvalue() == ""
    assert len(lines(second)) == 1
    ours = [h for h in logging.getLogger().handlers if getattr(h, "_pims_sync_observability", 0)]
    assert len(ours) == 1


def test_configuring_again_stops_the_previous_shipper(fake_axiom_settings: AxiomSettings) -> None:
    handle = configure_logging(stream=io.StringIO(), axiom=fake_axiom_settings)
    assert handle.axiom is not None and handle.axiom.shipping
    configure_logging(stream=io.StringIO(), axiom=fake_axiom_settings)
    assert not handle.axiom.shipping
    shippers = [h for h in logging.getLogger().handlers if isinstance(h, AxiomHandler)]
    assert len(shippers) == 1


@pytest.mark.parametrize(
    ("level", "fmt", "variable"), [("LOUD", "json", "LOG_LEVEL"), ("INFO", "xml", "LOG_FORMAT")]
)
def test_bad_settings_name_the_variable(level: str, fmt: str, variable: str) -> None:
    with pytest.raises(ValueError, match=variable):
        configure_logging(level, fmt, stream=io.StringIO())


def test_get_logger_names_the_area() -> None:
    assert get_logger("reconciliation").name == "pims_sync.reconciliation"
    with pytest.raises(ValueError):
        get_logger("Bad Area")


def test_shipping_troubles_go_to_stderr_and_never_into_the_shipment(
    fake_axiom: FakeAxiom, fake_axiom_settings: AxiomSettings
) -> None:
    fake_axiom.answer_next(500)
    stream = io.StringIO()
    handle = configure_logging(stream=stream, axiom=fake_axiom_settings)
    get_logger("http").info("served")
    wait_until(lambda: fake_axiom.events, "the event after one retry")
    assert handle.shutdown(timeout_s=5.0) is True

    written = [json.loads(line) for line in lines(stream)]
    troubles = [e["message"] for e in written if e["logger"] == "pims_sync.observability"]
    assert troubles == [
        "log shipping: Axiom answered 500; will retry",
        "log shipping: delivering again",
    ]
    assert [event["message"] for event in fake_axiom.events] == ["served"]
