"""Which Chromium to run and how to start it.

The operator's ``CHROMIUM_PATH`` wins; otherwise Debian's ``chromium-headless-shell`` (the
headless-only build: less memory and a faster start, and all a login needs), then Debian's full
``/usr/bin/chromium``; otherwise the browser Playwright bundles (the Docker image). A configured
path that does not work is an error, not a reason to silently run another browser.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from typing import Any

from providers.base import BrowserUnavailable

DEBIAN_HEADLESS_SHELL = "/usr/bin/chromium-headless-shell"
#: Debian's ``/usr/bin/chromium-headless-shell`` is a shell script that runs this binary as its
#: child instead of exec-ing it: launched through the script, the process the pool watches (and
#: kills when it hangs) would be the shell, while the browser lived on unseen.
DEBIAN_HEADLESS_SHELL_BINARY = "/usr/lib/chromium/chromium-headless-shell"
_WRAPPED = {DEBIAN_HEADLESS_SHELL: DEBIAN_HEADLESS_SHELL_BINARY}
DEBIAN_CHROMIUM = "/usr/bin/chromium"
#: Autodetect order when ``CHROMIUM_PATH`` is unset (contract §7), before Playwright's own.
DEBIAN_CANDIDATES = (DEBIAN_HEADLESS_SHELL, DEBIAN_CHROMIUM)

LAUNCH_FLAGS: tuple[str, ...] = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
)

# A switch Chromium ignores, carrying a token unique to one launch: it lets us find that
# browser's pid in /proc (Playwright does not expose it) for memory figures and cleanup. The
# token starts with the launching process's pid, so one daemon's browsers can be told from
# another's (or any other program's Chromium): `marker_prefix(daemon_pid)`.
MARKER_SWITCH = "--pims-sync-browser-id"


def _usable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def find_chromium(explicit: str | None = None, bundled: str | None = None) -> str:
    """The Chromium executable to launch.

    ``explicit`` is the operator's choice (``CHROMIUM_PATH``); ``bundled`` is Playwright's own
    browser (``playwright.chromium.executable_path``), the last resort.
    """
    if explicit:
        if not _usable(explicit):
            raise BrowserUnavailable(f"CHROMIUM_PATH {explicit!r} is not an executable file")
        return unwrapped(explicit)
    for candidate in (*DEBIAN_CANDIDATES, bundled):
        if candidate and _usable(candidate):
            return unwrapped(candidate)
    raise BrowserUnavailable(
        f"no Chromium found: tried {', '.join(DEBIAN_CANDIDATES)} and Playwright's bundled "
        "browser; set CHROMIUM_PATH"
    )


def unwrapped(path: str) -> str:
    """The browser binary itself where ``path`` is a known wrapper script that does not exec."""
    binary = _WRAPPED.get(os.path.realpath(path))
    return binary if binary is not None and _usable(binary) else path


def marker_prefix(owner_pid: int) -> str:
    return f"{MARKER_SWITCH}={owner_pid}-"


def new_marker() -> str:
    return f"{marker_prefix(os.getpid())}{uuid.uuid4().hex}"


#: What Chromium is given of the daemon's environment: where things are, the locale, the time
#: zone and the proxies. Nothing else — the daemon's environment holds the encryption key, the
#: database URL and the log-shipping token, and Chromium (run without its sandbox) renders the
#: PIMS's pages.
BROWSER_ENVIRONMENT: frozenset[str] = frozenset(
    {
        "PATH", "HOME", "USER", "LOGNAME", "SHELL", "TMPDIR", "TZ",
        "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "LC_MESSAGES", "LC_TIME",
        "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_RUNTIME_DIR",
        "FONTCONFIG_PATH", "FONTCONFIG_FILE",
        "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY",
        "http_proxy", "https_proxy", "no_proxy", "all_proxy",
    }
)  # fmt: skip


def browser_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment a launched Chromium sees (see :data:`BROWSER_ENVIRONMENT`)."""
    source = os.environ if environ is None else environ
    return {name: value for name, value in source.items() if name in BROWSER_ENVIRONMENT}


def launch_options(executable: str, marker: str, timeout_s: float) -> dict[str, Any]:
    """Keyword arguments for ``playwright.chromium.launch``."""
    return {
        "executable_path": executable,
        "env": browser_environment(),
        "headless": True,
        "args": [*LAUNCH_FLAGS, marker],
        "timeout": timeout_s * 1000,
        # Our pool owns the process lifetime; Playwright must not install signal handlers
        # that close browsers behind our back on SIGINT/SIGTERM/SIGHUP.
        "handle_sigint": False,
        "handle_sigterm": False,
        "handle_sighup": False,
    }
