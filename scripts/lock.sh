#!/usr/bin/env bash
# Regenerates the lock files from pyproject.toml, in one resolution:
#   requirements-test.lock  the runtime dependencies and the `test` extra (setup.sh, CI)
#   requirements.lock       the runtime dependencies alone (the Docker image), constrained to
#                           the versions of requirements-test.lock, so both always agree.
# Both are universal (every platform, Python 3.11 and newer: the image runs Ubuntu's 3.12) and
# carry every file's sha256, so `pip install --require-hashes -r …` needs nothing but pip.
#
#   bash scripts/lock.sh                           keep every pin; add or drop what pyproject
#                                                  changed (after editing its dependencies)
#   bash scripts/lock.sh --upgrade                 newest versions the ranges allow
#   bash scripts/lock.sh --upgrade-package aiohttp one package (and what it needs) only
#
# Then `git diff requirements*.lock` shows what moved. The lock tool (uv, pinned below so every
# engineer writes the same format) is installed on first use into a cache folder of its own; it
# is needed only here, never to install.
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION=0.13.9
tool_dir="${XDG_CACHE_HOME:-$HOME/.cache}/pims-sync/uv-$UV_VERSION"
uv="$tool_dir/bin/uv"
if [ ! -x "$uv" ]; then
  printf 'lock: installing uv %s into %s\n' "$UV_VERSION" "$tool_dir" >&2
  python3 -m venv "$tool_dir"
  "$tool_dir/bin/python" -m pip install -q "uv==$UV_VERSION"
fi

compile() {
  "$uv" pip compile pyproject.toml --quiet --universal --python-version 3.11 \
    --generate-hashes --custom-compile-command 'bash scripts/lock.sh' "$@"
}

compile --extra test -o requirements-test.lock "$@"
compile -c requirements-test.lock -o requirements.lock "$@"
printf 'lock: wrote requirements-test.lock and requirements.lock; see `git diff requirements*.lock`\n' >&2
