"""The lock files and pyproject.toml agree, so CI, a fresh machine and the image install what
pyproject.toml says is supported.

`pyproject.toml` gives the ranges; `requirements-test.lock` (runtime + the `test` extra, used by
scripts/setup.sh and CI) and `requirements.lock` (runtime only, used by the Dockerfile) pin one
version of everything, with hashes. Both are written by scripts/lock.sh from one resolution.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
RUNTIME_LOCK = "requirements.lock"
TEST_LOCK = "requirements-test.lock"
UPDATE = "run `bash scripts/lock.sh` and commit both lock files"
# uv's annotation for a package that pyproject.toml asks for by name.
FROM_PYPROJECT = "pims-sync (pyproject.toml)"

ENTRY = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;\\]+)\s*(?:;[^\\]*)?\\?$"
)
HASH = re.compile(r"^\s+--hash=sha256:(?P<digest>[0-9a-f]{64})\s*\\?$")
VIA_ONE = re.compile(r"^\s+# via (?P<who>\S.*)$")
VIA_MORE = re.compile(r"^\s+#\s{3}(?P<who>\S.*)$")


@dataclass
class Locked:
    version: str
    hashes: set[str] = field(default_factory=set)
    via: list[str] = field(default_factory=list)


def parse_lock(text: str, filename: str) -> dict[str, Locked]:
    """Every pinned entry of a hashed requirements file, with its hashes and uv's `# via`."""
    entries: dict[str, Locked] = {}
    current: Locked | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        if entry := ENTRY.match(line):
            name = canonicalize_name(entry["name"])
            assert name not in entries, f"{filename}:{number}: {name} is listed twice; {UPDATE}"
            current = entries[name] = Locked(entry["version"])
        elif current is not None and (digest := HASH.match(line)):
            current.hashes.add(digest["digest"])
        elif current is not None and (via := VIA_ONE.match(line) or VIA_MORE.match(line)):
            current.via.append(via["who"].strip())
        elif current is not None and line.strip() == "# via":
            continue
        else:
            pytest.fail(f"{filename}:{number}: not a pinned, hashed entry: {line!r}; {UPDATE}")
    return entries


def read_lock(filename: str) -> dict[str, Locked]:
    path = ROOT / filename
    assert path.is_file(), f"{filename} is missing; {UPDATE}"
    return parse_lock(path.read_text(encoding="utf-8"), filename)


def pyproject_requirements() -> tuple[list[Requirement], list[Requirement]]:
    """(runtime dependencies, the `test` extra) as pyproject.toml declares them."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = [Requirement(spec) for spec in project["dependencies"]]
    test = [Requirement(spec) for spec in project["optional-dependencies"]["test"]]
    return runtime, test


RUNTIME, TEST_EXTRA = pyproject_requirements()
# Each lock and what pyproject.toml asks it to hold.
LOCKS = {RUNTIME_LOCK: RUNTIME, TEST_LOCK: RUNTIME + TEST_EXTRA}


def assert_agrees(lock_name: str, lock: dict[str, Locked], wanted: list[Requirement]) -> None:
    """Every requirement is locked at an admitted version, and every package the lock says
    pyproject.toml asks for is still asked for."""
    for requirement in wanted:
        name = canonicalize_name(requirement.name)
        assert name in lock, (
            f"{requirement.name}: pyproject.toml asks for {requirement} but {lock_name} does not "
            f"list it; {UPDATE}"
        )
        locked = lock[name]
        assert requirement.specifier.contains(locked.version, prereleases=True), (
            f"{requirement.name}: {lock_name} pins {locked.version}, outside pyproject.toml's "
            f"{requirement}; {UPDATE}"
        )
        assert FROM_PYPROJECT in locked.via, (
            f"{requirement.name}: {lock_name} does not record it as asked for by pyproject.toml "
            f"(via {', '.join(locked.via) or 'nothing'}); {UPDATE}"
        )
    asked = {canonicalize_name(requirement.name) for requirement in wanted}
    for locked_name, locked in lock.items():
        assert FROM_PYPROJECT not in locked.via or locked_name in asked, (
            f"{locked_name}: {lock_name} locks it as a dependency of pyproject.toml, which no "
            f"longer asks for it; {UPDATE}"
        )


@pytest.mark.parametrize("lock_name", sorted(LOCKS))
def test_lock_and_pyproject_agree(lock_name: str) -> None:
    assert_agrees(lock_name, read_lock(lock_name), LOCKS[lock_name])


@pytest.mark.parametrize("lock_name", sorted(LOCKS))
def test_every_locked_package_has_hashes(lock_name: str) -> None:
    lock = read_lock(lock_name)
    assert lock, f"{lock_name} lists no package; {UPDATE}"
    unhashed = sorted(name for name, locked in lock.items() if not locked.hashes)
    assert not unhashed, f"{lock_name} has no hash for {', '.join(unhashed)}; {UPDATE}"


def test_runtime_lock_is_the_test_lock_without_the_test_tools() -> None:
    """Both locks come from one resolution: the image runs the versions CI tested."""
    runtime, full = read_lock(RUNTIME_LOCK), read_lock(TEST_LOCK)
    for name, locked in runtime.items():
        assert name in full, f"{name} is in {RUNTIME_LOCK} but not in {TEST_LOCK}; {UPDATE}"
        assert (locked.version, locked.hashes) == (full[name].version, full[name].hashes), (
            f"{name}: {RUNTIME_LOCK} pins {locked.version}, {TEST_LOCK} {full[name].version} "
            f"(or their hashes differ); {UPDATE}"
        )
    test_only = {canonicalize_name(r.name) for r in TEST_EXTRA} - {
        canonicalize_name(r.name) for r in RUNTIME
    }
    shipped = sorted(test_only & runtime.keys())
    assert not shipped, f"{RUNTIME_LOCK} carries test tools {', '.join(shipped)}; {UPDATE}"


# The checks above must catch what they are for: a lock that drifted from pyproject.toml.

LOCK_TEXT = """\
# This file was autogenerated by uv via the following command:
#    bash scripts/lock.sh
aiohttp==3.14.5 \\
    --hash=sha256:{a}
    # via pims-sync (pyproject.toml)
yarl==1.25.1 ; sys_platform != 'win32' \\
    --hash=sha256:{b} \\
    --hash=sha256:{c}
    # via
    #   -c requirements-test.lock
    #   aiohttp
""".format(a="a" * 64, b="b" * 64, c="c" * 64)


def test_parse_lock_reads_versions_hashes_and_annotations() -> None:
    lock = parse_lock(LOCK_TEXT, "x.lock")
    assert lock["aiohttp"] == Locked("3.14.5", {"a" * 64}, [FROM_PYPROJECT])
    assert lock["yarl"] == Locked(
        "1.25.1", {"b" * 64, "c" * 64}, ["-c requirements-test.lock", "aiohttp"]
    )


@pytest.mark.parametrize(
    ("wanted", "message"),
    [
        (["aiohttp>=3.10,<4", "croniter>=6"], "croniter: pyproject.toml asks for croniter>=6 but"),
        (["aiohttp>=4"], "aiohttp: x.lock pins 3.14.5, outside pyproject.toml's aiohttp>=4"),
        ([], "aiohttp: x.lock locks it as a dependency of pyproject.toml, which no longer asks"),
        (["yarl"], "yarl: x.lock does not record it as asked for by pyproject.toml (via -c"),
    ],
)
def test_disagreement_names_the_dependency_and_the_command(wanted: list[str], message: str) -> None:
    lock = parse_lock(LOCK_TEXT, "x.lock")
    with pytest.raises(AssertionError) as failure:
        assert_agrees("x.lock", lock, [Requirement(spec) for spec in wanted])
    assert message in str(failure.value)
    assert "bash scripts/lock.sh" in str(failure.value)


def test_an_unhashed_or_unpinned_line_is_refused() -> None:
    with pytest.raises(
        pytest.fail.Exception, match=re.escape("x.lock:1: not a pinned, hashed entry")
    ):
        parse_lock("aiohttp>=3.10\n", "x.lock")
