"""What Linux's ``/proc`` tells about our Chromium processes (memory, liveness, leftovers).

Playwright starts each browser as the leader of its own process group, and every helper process
(zygote, renderers, GPU, network service) stays in that group, so "the browser and its children"
is "the live members of the group whose id is the browser's pid". Where ``/proc`` does not exist
every function answers "nothing" rather than failing: these are observations, not control flow.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")


@dataclass(frozen=True, slots=True)
class ProcStat:
    pid: int
    comm: str
    state: str
    ppid: int
    pgid: int


def read_stat(pid: int) -> ProcStat | None:
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # comm is in parentheses and may itself contain spaces or parentheses.
    open_at, close_at = text.find("("), text.rfind(")")
    fields = text[close_at + 2 :].split()
    if open_at < 0 or close_at < 0 or len(fields) < 3:
        return None
    return ProcStat(
        pid=pid,
        comm=text[open_at + 1 : close_at],
        state=fields[0],
        ppid=int(fields[1]),
        pgid=int(fields[2]),
    )


def all_pids() -> Iterator[int]:
    try:
        names = os.listdir(PROC)
    except OSError:
        return
    for name in names:
        if name.isdigit():
            yield int(name)


def cmdline(pid: int) -> list[str]:
    try:
        raw = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def find_pid_by_argument(argument: str) -> int | None:
    """The live process whose command line holds exactly ``argument``."""
    for pid in all_pids():
        if argument in cmdline(pid):
            stat = read_stat(pid)
            if stat is not None and stat.state != "Z":
                return pid
    return None


def find_pids_by_argument_prefix(prefix: str) -> list[int]:
    """Live processes with an argument starting with ``prefix`` (e.g. one daemon's browsers)."""
    found = []
    for pid in all_pids():
        if any(argument.startswith(prefix) for argument in cmdline(pid)):
            stat = read_stat(pid)
            if stat is not None and stat.state != "Z":
                found.append(pid)
    return sorted(found)


def group_pids(pgid: int) -> list[int]:
    """Live (not zombie) members of process group ``pgid``."""
    members: list[int] = []
    for pid in all_pids():
        stat = read_stat(pid)
        if stat is not None and stat.pgid == pgid and stat.state != "Z":
            members.append(pid)
    return sorted(members)


def pss_bytes(pid: int) -> int:
    """Proportional set size of one process (0 when it is gone or unreadable)."""
    try:
        text = (PROC / str(pid) / "smaps_rollup").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) * 1024
    return 0


def group_pss_bytes(pgid: int) -> int:
    """Proportional set size of a browser and its helpers (the live members of its group)."""
    return sum(pss_bytes(pid) for pid in group_pids(pgid))


def kill_group(pgid: int) -> int:
    """SIGKILL what is left of a browser's process group; returns how many were signalled.

    Only processes still in the group are touched, each by pid, so a recycled group id of an
    unrelated program is never hit as a whole.
    """
    killed = 0
    for pid in group_pids(pgid):
        try:
            os.kill(pid, signal.SIGKILL)
            killed += 1
        except OSError:
            pass
    return killed
