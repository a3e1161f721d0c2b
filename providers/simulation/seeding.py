"""Reproducible scenarios: the same scenario, day and time zone always build the same data."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence


def check_scenario(scenario: str, known: Sequence[str]) -> None:
    if scenario not in known:
        raise ValueError(f"unknown scenario {scenario!r}; choose one of {', '.join(known)}")


def seeded_random(key: str) -> random.Random:
    """A generator seeded from ``key`` by hash (not ``hash()``, which varies per process), so
    a test and the simulator it starts in another process see the same records."""
    digest = hashlib.sha256(key.encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))
