#!/usr/bin/env bash
# Sets up everything pims-sync needs on a Debian machine, idempotently:
#   - Debian packages: python3-venv (virtual environments), chromium (the browser that Playwright
#     drives; Playwright's own browser download is never used) and, where this Debian release has
#     it, chromium-headless-shell (the lighter headless-only build of the same browser),
#   - a virtual environment in .venv with exactly the locked versions of requirements-test.lock
#     (the runtime dependencies and the test tools, every file checked against its hash), and the
#     project itself as an editable install; it is redone only when the lock or pyproject.toml
#     changed, and it then also removes what the lock no longer lists,
#   - the local PostgreSQL cluster started, when it is installed but stopped (the tests use it).
# Only pip and Debian's package archive are needed: the lock tool (scripts/lock.sh) is not.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    say "need root to run: $*"; exit 1; fi
}

# grep reads to the end (no -q): under pipefail, an early exit would SIGPIPE apt-cache and turn
# a package that is there into one that is not, at random.
has_candidate() { apt-cache policy "$1" 2>/dev/null | grep 'Candidate: [^(]' >/dev/null; }

missing=()  # needed: installed whatever it takes
optional=() # wanted where this Debian release has them
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
if [ -z "${CHROMIUM_PATH:-}" ]; then
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  [ -x /usr/bin/chromium-headless-shell ] || optional+=(chromium-headless-shell)
fi
wanted=("${missing[@]}")
for package in "${optional[@]}"; do has_candidate "$package" && wanted+=("$package"); done
if [ ${#wanted[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq >/dev/null
  # The package lists were just refreshed: an optional package unknown before may be there now.
  for package in "${optional[@]}"; do
    [[ " ${wanted[*]} " == *" $package "* ]] || ! has_candidate "$package" || wanted+=("$package")
  done
  say "installing Debian packages: ${wanted[*]}"
  as_root apt-get install -y -qq "${wanted[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  say "creating .venv"
  python3 -m venv .venv
fi
lock=requirements-test.lock
stamp=.venv/.installed-$(cat "$lock" pyproject.toml | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ]; then
  say "installing the locked dependencies ($lock) and pims-sync into .venv"
  if ! {
    .venv/bin/python -m pip install --require-hashes -r "$lock" \
      && .venv/bin/python -m pip install --no-deps -e . \
      && .venv/bin/python scripts/prune_venv.py "$lock" \
      && .venv/bin/python -m pip check
  } >.venv/install.log 2>&1; then
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
