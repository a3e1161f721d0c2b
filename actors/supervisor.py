"""Supervisor: starts one ClinicActor per active clinic, applies configuration changes to the
affected clinics only, and restarts a dead clinic actor with backoff.

pykka has no supervision of its own, and it only calls ``on_failure`` for a message that failed:
an actor whose ``on_start`` raises (the database is down, say) just stops, and nobody is told.
So the supervisor does not rely on being told: every ``CHECK_INTERVAL_S`` it looks at each
child's ref, and a dead one is restarted however it died (1 s, 2 s, 4 s … up to 5 minutes,
jittered),
counted in ``pims_sync_actor_restarts_total`` and shown on the :class:`ServiceBoard` (``/ready``,
``pims_sync_clinics_unserved``) until it serves again. A child that has served for
``HEALTHY_AFTER_S`` since its restart gets its backoff reset.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pykka

from actors.directory import ClinicDirectory
from actors.messages import (
    ApplyConfig,
    CheckChildren,
    ChildFailed,
    Drain,
    Reconfigure,
    RestartChild,
    StopChildren,
)
from actors.serving import ServiceBoard
from actors.ticker import Ticker
from daemon.observability import metrics
from daemon.store.clinics import ClinicView
from daemon.store.types import utcnow
from providers.backoff import Backoff

log = logging.getLogger("pims_sync.actors")

#: 1 s, 2 s, 4 s … up to 5 minutes, with jitter so that clinics failing together (a database
#: outage) do not all come back in the same second.
RESTART_BACKOFF = Backoff(first_s=1.0, max_s=300.0)
CHECK_INTERVAL_S = 1.0
HEALTHY_AFTER_S = 60.0
STARTING_TOO_LONG_S = 30.0

ChildFactory = Callable[[ClinicView, pykka.ActorRef[Any]], pykka.ActorRef[Any]]


@dataclass
class Child:
    clinic: ClinicView
    ref: pykka.ActorRef[Any] | None
    started_at: float = 0.0  # monotonic time the current ref was started
    failures: int = 0  # failures in a row; reset once the child has been healthy a while
    generation: int = 0


class Supervisor(pykka.ThreadingActor):
    def __init__(
        self,
        *,
        directory: ClinicDirectory,
        board: ServiceBoard,
        start_child: ChildFactory,
        backoff: Callable[[int], float] = RESTART_BACKOFF.delay,
        check_interval_s: float = CHECK_INTERVAL_S,
        healthy_after_s: float = HEALTHY_AFTER_S,
    ) -> None:
        super().__init__()
        self.directory = directory
        self.board = board
        self.start_child = start_child
        self.backoff = backoff
        self.check_interval_s = check_interval_s
        self.healthy_after_s = healthy_after_s
        self.children: dict[uuid.UUID, Child] = {}
        self.timers: list[threading.Timer] = []
        self.ticker: Ticker | None = None
        self.draining = False

    def on_start(self) -> None:
        self.ticker = Ticker(
            self.actor_ref, CheckChildren(), self.check_interval_s, name="supervisor-check"
        ).start()

    def on_stop(self) -> None:
        self._drain()
        if self.ticker is not None:
            self.ticker.stop()

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, ApplyConfig):
            return self._apply(message.clinics)
        if isinstance(message, CheckChildren):
            return self._check_children()
        if isinstance(message, ChildFailed):
            return self._reported_failure(message)
        if isinstance(message, RestartChild):
            return self._restart(message)
        if isinstance(message, Drain):
            return self._drain()
        if isinstance(message, StopChildren):
            return self._hand_over_children()
        raise TypeError(f"Supervisor cannot handle {type(message).__name__}")

    # -- configuration --------------------------------------------------------------------------

    def _apply(self, clinics: tuple[ClinicView, ...]) -> dict[str, int]:
        """Start new clinics, stop removed or deactivated ones, reconfigure edited ones."""
        if self.draining:
            return {"started": 0, "stopped": 0, "reconfigured": 0}
        # With leases, only the clinics this replica holds (the directory knows which).
        wanted = {c.id: c for c in clinics if c.is_active and self.directory.holds(c.id)}
        started = stopped = reconfigured = 0
        for clinic_id in list(self.children):
            if clinic_id not in wanted:
                self._stop_child(clinic_id)
                stopped += 1
        for clinic_id, clinic in wanted.items():
            child = self.children.get(clinic_id)
            if child is None:
                child = self.children[clinic_id] = Child(clinic, None)
                self._start(child)
                started += 1
            elif child.clinic.updated_at != clinic.updated_at:
                child.clinic = clinic
                # A child waiting for its restart picks the new configuration up then.
                if child.ref is not None and child.ref.is_alive():
                    child.ref.tell(Reconfigure(clinic))
                reconfigured += 1
        if started or stopped or reconfigured:
            log.info(
                "configuration applied: %d started, %d stopped, %d reconfigured",
                started,
                stopped,
                reconfigured,
            )
        return {"started": started, "stopped": stopped, "reconfigured": reconfigured}

    def _start(self, child: Child) -> None:
        clinic = child.clinic
        child.started_at = time.monotonic()
        try:
            child.ref = self.start_child(clinic, self.actor_ref)
        except Exception as exc:  # a clinic whose actor cannot start must not stop the others
            log.exception("clinic actor could not start", extra={"clinic_id": str(clinic.id)})
            child.ref = None
            self._failed(clinic.id, f"could not start: {type(exc).__name__}")

    def _stop_child(self, clinic_id: uuid.UUID) -> None:
        child = self.children.pop(clinic_id, None)
        self.directory.unregister(clinic_id)
        self.board.mark_up(clinic_id)  # no longer wanted here: nothing to report
        if child is not None and child.ref is not None and child.ref.is_alive():
            # Not blocking: a running sync finishes first, then the actor stops.
            child.ref.stop(block=False)

    # -- supervision ----------------------------------------------------------------------------

    def _check_children(self) -> None:
        if self.draining:
            return
        for clinic_id, child in list(self.children.items()):
            ref = child.ref
            if ref is None:
                continue  # waiting for its restart
            if not ref.is_alive():
                self._failed(clinic_id, "the clinic actor stopped (it failed while starting)")
            elif self.directory.actor_for(clinic_id) is ref:
                if self.board.mark_up(clinic_id):
                    log.info("clinic served again", extra={"clinic_id": str(clinic_id)})
                healthy_for = time.monotonic() - child.started_at
                if child.failures and healthy_for >= self.healthy_after_s:
                    self._child_recovered(clinic_id)
            elif time.monotonic() - child.started_at >= STARTING_TOO_LONG_S:
                # Alive but not serving: its start hangs (a database that does not answer).
                self.board.mark_down(
                    clinic_id,
                    child.clinic.name,
                    f"still starting after {STARTING_TOO_LONG_S:.0f} s",
                    failures=child.failures,
                    retry_at=None,
                )

    def _reported_failure(self, message: ChildFailed) -> None:
        child = self.children.get(message.clinic_id)
        if child is None or child.ref is None:
            return  # already noticed by the check, or no longer wanted
        if message.actor_urn and message.actor_urn != child.ref.actor_urn:
            return  # about an actor already replaced
        self._failed(message.clinic_id, message.reason)

    def _failed(self, clinic_id: uuid.UUID, reason: str) -> None:
        child = self.children.get(clinic_id)
        if child is None or self.draining:
            return
        child.failures += 1
        child.generation += 1
        child.ref = None
        self.directory.unregister(clinic_id)
        delay = self.backoff(child.failures)
        self.board.mark_down(
            clinic_id,
            child.clinic.name,
            reason,
            failures=child.failures,
            retry_at=utcnow() + timedelta(seconds=delay),
        )
        log.warning(
            "clinic actor failed (%s); restarting in %.1f s (failure %d in a row)",
            reason,
            delay,
            child.failures,
            extra={"clinic_id": str(clinic_id)},
        )
        timer = threading.Timer(
            delay, self._tell_restart, args=(RestartChild(clinic_id, child.generation),)
        )
        timer.daemon = True
        timer.start()
        self.timers = [t for t in self.timers if t.is_alive()] + [timer]

    def _tell_restart(self, message: RestartChild) -> None:
        if self.actor_ref.is_alive():
            self.actor_ref.tell(message)

    def _restart(self, message: RestartChild) -> None:
        child = self.children.get(message.clinic_id)
        if child is None or child.generation != message.generation or self.draining:
            return
        metrics.ACTOR_RESTARTS_TOTAL.labels(actor="clinic").inc()
        self._start(child)
        if child.ref is not None:
            log.info("clinic actor restarted", extra={"clinic_id": str(message.clinic_id)})

    def _child_recovered(self, clinic_id: uuid.UUID) -> None:
        """A restarted child has served for a while: forget its failures (reset the backoff)."""
        child = self.children.get(clinic_id)
        if child is not None and child.failures:
            log.info(
                "clinic actor healthy for %.0f s after %d failure(s): restart backoff reset",
                self.healthy_after_s,
                child.failures,
                extra={"clinic_id": str(clinic_id)},
            )
            child.failures = 0

    # -- shutdown -------------------------------------------------------------------------------

    def _drain(self) -> None:
        """Stop reacting to configuration and failures; shutdown is under way."""
        self.draining = True
        for timer in self.timers:
            timer.cancel()

    def _hand_over_children(self) -> list[pykka.ActorRef[Any]]:
        """The live clinic actors, for the daemon to stop in parallel under its deadline."""
        self._drain()
        refs = [c.ref for c in self.children.values() if c.ref is not None and c.ref.is_alive()]
        self.children.clear()
        return refs
