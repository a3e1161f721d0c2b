"""What the docs claim about the command line and the logs, checked against the code."""

from __future__ import annotations

import re
from pathlib import Path

from daemon.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]


def _takes_json() -> dict[str, bool]:
    """Each command (or ``command action``) and whether it has ``--json``."""
    commands = next(a for a in build_parser()._actions if a.dest == "command")
    found: dict[str, bool] = {}
    for name, parser in commands.choices.items():  # type: ignore[union-attr]
        actions = next((a for a in parser._actions if a.dest == "action"), None)
        subs = actions.choices.items() if actions is not None else [("", parser)]
        for verb, sub in subs:
            flags = {flag for action in sub._actions for flag in action.option_strings}
            found[f"{name} {verb}".strip()] = "--json" in flags
    return found


def test_every_command_but_run_and_demo_takes_json_as_the_readme_says() -> None:
    without = {name for name, has in _takes_json().items() if not has}
    assert without == {"run", "demo"}
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    assert "Every command except `run` and `demo` takes `--json`" in readme


def test_every_logger_is_in_the_documented_tree() -> None:
    """``pims_sync.<area>`` (docs/observability.md), never a module's ``__name__``."""
    documented = set(
        re.findall(r"\| `(pims_sync\.[a-z-]+)` \|", (ROOT / "docs/observability.md").read_text())
    )
    used: dict[str, set[str]] = {}
    for package in ("daemon", "actors", "providers"):
        for path in (ROOT / package).rglob("*.py"):
            for name in re.findall(r"getLogger\(([^)]*)\)", path.read_text(encoding="utf-8")):
                used.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    assert "__name__" not in used, used.get("__name__")
    literal = {n.strip("\"'") for n in used if n.startswith(('"', "'"))}
    ours = {n for n in literal if n.startswith("pims_sync")}
    assert ours <= documented, ours - documented
    assert literal - ours <= {"alembic"}  # quietened, not ours
