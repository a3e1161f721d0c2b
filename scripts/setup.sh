#!/usr/bin/env bash
# Sets up everything pims-sync needs on a Debian machine, idempotently:
#   - Debian packages: python3-venv (virtual environments) and chromium (the browser that
#     Playwright drives; Playwright's own browser download is never used),
#   - a virtual environment in .venv with the project and its test tools,
#   - the local PostgreSQL cluster started, when it is installed but stopped (the tests use it).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    say "need root to run: $*"; exit 1; fi
}

missing=()
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
[ -x /usr/bin/chromium ] || [ -n "${CHROMIUM_PATH:-}" ] || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq >/dev/null
  as_root apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  say "creating .venv"
  python3 -m venv .venv
fi
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  say "installing pims-sync and its dependencies into .venv"
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
  if ! .venv/bin/python -m pip install -q -e '.[test]' >.venv/install.log 2>&1; then
    cat .venv/install.log >&2; say "installation failed (log above)"; exit 1
  fi
  .venv/bin/python -c 'import daemon, playwright, sqlalchemy, psycopg' \
    || { say "installation failed"; exit 1; }
  rm -f .venv/.installed-* && touch "$stamp"
fi

if command -v pg_lsclusters >/dev/null 2>&1; then
  pg_lsclusters --no-header 2>/dev/null | while read -r version cluster _port status _rest; do
    if [ "$status" != "online" ]; then
      say "starting PostgreSQL cluster $version/$cluster"
      as_root pg_ctlcluster --skip-systemctl-redirect "$version" "$cluster" start || true
    fi
  done
fi
say "ready"
