"""The sliding log behind 429 (contract §3.1), on a fake clock."""

from __future__ import annotations

from daemon.http.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_limit_per_key_in_any_sixty_seconds() -> None:
    clock = Clock()
    limiter = RateLimiter(3, clock=clock)
    for _ in range(3):  # at 1000, 1010, 1020
        assert limiter.hit("a") is None
        clock.now += 10
    assert limiter.hit("a") == 30  # at 1030: the oldest leaves the window at 1060
    assert limiter.hit("b") is None  # another key has its own budget
    clock.now += 29.5
    assert limiter.hit("a") == 1  # rounded up, never 0
    clock.now += 0.5
    assert limiter.hit("a") is None  # at 1060: 1010, 1020, 1060 in the window
    assert limiter.hit("a") == 10  # no burst at the window's edge: wait for 1010 to leave


def test_idle_keys_are_forgotten() -> None:
    clock = Clock()
    limiter = RateLimiter(1, clock=clock)
    for key in range(100):
        limiter.hit(key)
    clock.now += 61
    limiter.hit("fresh")
    assert set(limiter._hits) == {"fresh"}
