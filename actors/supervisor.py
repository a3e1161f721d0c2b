"""Supervisor: starts one ClinicActor per active clinic, applies configuration changes to the
affected clinics only, and restarts a failed clinic actor with backoff.

pykka has no supervision of its own: a child's ``on_failure`` tells us, we wait (1 s, 2 s, 4 s
… up to 5 minutes) and start a fresh actor, counting restarts in metrics.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pykka

from actors.directory import ClinicDirectory
from actors.messages import ApplyConfig, ChildFailed, Reconfigure, RestartChild
from daemon.observability import metrics
from daemon.store.clinics import ClinicView

log = logging.getLogger("pims_sync.actors")

BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 300.0

ChildFactory = Callable[[ClinicView, pykka.ActorRef[Any]], pykka.ActorRef[Any]]


@dataclass
class Child:
    clinic: ClinicView
    ref: pykka.ActorRef[Any] | None
    failures: int = 0
    generation: int = 0


class Supervisor(pykka.ThreadingActor):
    def __init__(
        self,
        *,
        directory: ClinicDirectory,
        start_child: ChildFactory,
        backoff_first_s: float = BACKOFF_FIRST_S,
    ) -> None:
        super().__init__()
        self.directory = directory
        self.start_child = start_child
        self.backoff_first_s = backoff_first_s
        self.children: dict[uuid.UUID, Child] = {}
        self.timers: list[threading.Timer] = []
        self.draining = False

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, ApplyConfig):
            return self._apply(message.clinics)
        if isinstance(message, ChildFailed):
            return self._child_failed(message)
        if isinstance(message, RestartChild):
            return self._restart(message)
        raise TypeError(f"Supervisor cannot handle {type(message).__name__}")

    # -- configuration --------------------------------------------------------------------------

    def _apply(self, clinics: tuple[ClinicView, ...]) -> dict[str, int]:
        """Start new clinics, stop removed or deactivated ones, reconfigure edited ones."""
        if self.draining:
            return {"started": 0, "stopped": 0, "reconfigured": 0}
        wanted = {c.id: c for c in clinics if c.is_active}
        started = stopped = reconfigured = 0
        for clinic_id in list(self.children):
            if clinic_id not in wanted:
                self._stop_child(clinic_id)
                stopped += 1
        for clinic_id, clinic in wanted.items():
            child = self.children.get(clinic_id)
            if child is None:
                self.children[clinic_id] = Child(clinic, self._start(clinic))
                started += 1
            elif child.clinic.updated_at != clinic.updated_at:
                child.clinic = clinic
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

    def _start(self, clinic: ClinicView) -> pykka.ActorRef[Any] | None:
        try:
            return self.start_child(clinic, self.actor_ref)
        except Exception as exc:  # a clinic whose actor cannot start must not stop the others
            log.exception("clinic actor could not start", extra={"clinic_id": str(clinic.id)})
            self.actor_ref.tell(ChildFailed(clinic.id, repr(exc)[:200]))
            return None

    def _stop_child(self, clinic_id: uuid.UUID) -> None:
        child = self.children.pop(clinic_id, None)
        self.directory.unregister(clinic_id)
        if child is not None and child.ref is not None and child.ref.is_alive():
            # Not blocking: a running sync finishes first, then the actor stops.
            child.ref.stop(block=False)

    # -- supervision ----------------------------------------------------------------------------

    def _child_failed(self, message: ChildFailed) -> None:
        child = self.children.get(message.clinic_id)
        if child is None or self.draining:
            return
        child.failures += 1
        child.generation += 1
        child.ref = None
        delay = min(BACKOFF_MAX_S, self.backoff_first_s * 2 ** (child.failures - 1))
        log.warning(
            "clinic actor failed (%s); restarting in %.0f s",
            message.reason,
            delay,
            extra={"clinic_id": str(message.clinic_id)},
        )
        timer = threading.Timer(
            delay, self._tell_restart, args=(RestartChild(message.clinic_id, child.generation),)
        )
        timer.daemon = True
        timer.start()
        self.timers.append(timer)

    def _tell_restart(self, message: RestartChild) -> None:
        if self.actor_ref.is_alive():
            self.actor_ref.tell(message)

    def _restart(self, message: RestartChild) -> None:
        child = self.children.get(message.clinic_id)
        if child is None or child.generation != message.generation or self.draining:
            return
        metrics.ACTOR_RESTARTS_TOTAL.labels(actor="clinic").inc()
        child.ref = self._start(child.clinic)
        if child.ref is not None:
            log.info("clinic actor restarted", extra={"clinic_id": str(message.clinic_id)})

    def child_recovered(self, clinic_id: uuid.UUID) -> None:
        """A restarted child ran a sync to the end: forget its failures (reset the backoff)."""
        child = self.children.get(clinic_id)
        if child is not None:
            child.failures = 0

    # -- shutdown -------------------------------------------------------------------------------

    def drain(self) -> None:
        """Stop reacting to configuration and failures; shutdown is under way."""
        self.draining = True
        for timer in self.timers:
            timer.cancel()

    def stop_children(self, timeout_s: float) -> int:
        """Stop every clinic actor, waiting up to ``timeout_s`` for each to finish."""
        refs = [c.ref for c in self.children.values() if c.ref is not None]
        self.children.clear()
        for ref in refs:
            try:
                ref.stop(block=True, timeout=timeout_s)
            except pykka.Timeout:
                log.warning("a clinic actor did not stop within %.0f s", timeout_s)
        return len(refs)

    def on_stop(self) -> None:
        self.drain()
