"""Counters the tests and benchmarks read back."""

from __future__ import annotations

from typing import Any

from providers.ezyvet.simulator.faults import ENDPOINTS
from providers.simulation.counters import Counters

EVENTS: tuple[str, ...] = ("tokens_issued", "token_failures", "unauthorized", "rate_limited")


class Stats(Counters):
    def snapshot(self) -> dict[str, int]:
        """Every endpoint and event is present, zero when nothing happened yet; ``requests`` is
        the total over the endpoints."""
        result = self.counts((*sorted(ENDPOINTS), *EVENTS))
        result["requests"] = sum(result[name] for name in ENDPOINTS)
        return result


def merged(counts: dict[str, int], peaks: dict[str, int], active_tokens: int) -> dict[str, Any]:
    result: dict[str, Any] = dict(counts)
    result["peak_per_window"] = peaks
    result["active_tokens"] = active_tokens
    return result
