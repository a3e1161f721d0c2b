"""``--help`` must answer before any database, HTTP or browser code is loaded.

An outcome, not a timing: the modules present in ``sys.modules`` after the parser printed the
help. (The times themselves are in ``benchmarks/cli_help.py``.)
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from daemon.cli import COMMANDS, build_parser

HEAVY = ("sqlalchemy", "alembic", "playwright", "aiohttp", "pykka")

PROBE = """
import json, sys
from daemon.cli import main
try:
    main(json.loads(sys.argv[1]))
except SystemExit as exc:
    code = exc.code
else:
    code = None
sys.stderr.write(json.dumps({"code": code, "loaded": sorted(
    m for m in json.loads(sys.argv[2]) if m in sys.modules)}) + "\\n")
"""


def _help(*words: str) -> tuple[dict[str, object], str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps([*words, "--help"]), json.dumps(HEAVY)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    report: dict[str, object] = json.loads(done.stderr.strip().splitlines()[-1])
    return report, done.stdout


def _with_actions() -> list[tuple[str, ...]]:
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command")
    lines: list[tuple[str, ...]] = [()]
    for name, sub in commands.choices.items():  # type: ignore[union-attr]
        lines.append((name,))
        for action in sub._actions:
            if action.dest == "action":
                lines += [(name, verb) for verb in action.choices]
    return lines


@pytest.mark.parametrize("words", _with_actions(), ids=lambda w: " ".join(w) or "pims-sync")
def test_help_loads_no_heavy_module(words: tuple[str, ...]) -> None:
    report, stdout = _help(*words)
    assert report["code"] == 0
    assert stdout.startswith("usage: pims-sync")
    assert report["loaded"] == [], f"`{' '.join(words)} --help` imported {report['loaded']}"


def test_top_level_help_lists_every_command_with_its_summary() -> None:
    _report, stdout = _help()
    flat = "".join(stdout.split())  # argparse wraps long lines, even inside words
    for name, (_module, summary) in COMMANDS.items():
        assert "".join(f"{name} {summary}".split()) in flat


def test_the_summaries_are_the_commands_own() -> None:
    """The dispatcher's table repeats each command's one-line help: they must not drift."""
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command")
    registered = {a.dest: a.help for a in commands._choices_actions}  # type: ignore[attr-defined]
    assert registered == {name: summary for name, (_m, summary) in COMMANDS.items()}


def test_unknown_command_is_a_usage_error_naming_the_choices() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "daemon", "frobnicate"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "invalid choice: 'frobnicate'" in done.stderr and "status" in done.stderr
    assert done.stdout == ""
