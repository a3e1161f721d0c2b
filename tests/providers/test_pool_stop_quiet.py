"""A browser pool stopped while its first Chromium starts (a daemon told to stop during start-up)
is simply stopping: it must not log that Chromium could not be started."""

from __future__ import annotations

import logging

import pytest

from providers.browsers import BrowserPool

pytestmark = pytest.mark.browser


def test_a_pool_stopped_during_its_warm_up_logs_no_error(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="pims_sync.browser")
    pool = BrowserPool(size=1)
    pool.start()
    pool.warm_up_soon()  # what the daemon does once a clinic that logs in via a browser is served
    pool.stop()  # at once, while Chromium is being launched; the pool's thread has ended after
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == []
