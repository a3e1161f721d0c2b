"""LeaseKeeper: keeps this replica's clinic leases and tells the rest of the daemon which
clinics it holds (through :class:`actors.directory.ClinicDirectory`).

Every ``LEASE_TTL_S ÷ 3`` (and at once when another replica gives leases up, woken by
``NOTIFY``) one renewal statement renews every lease held; then, to keep the spread even,
the keeper claims free or expired leases up to its share (⌈active ÷ live⌉), or gives up its
surplus between syncs: a clinic being handed over is first withdrawn from this replica (no new
sync starts here), and its lease is released on a later round once no sync of it is running.
A lease that the renewal no longer returns was lost: the clinic's running sync is cancelled
(its writes are fenced anyway). When no renewal has worked for a whole TTL, the replica stops
serving its clinics until one works again (another replica may hold them by then). While
draining, work told to a clinic actor is left queued by the actor for the clinic's next owner
(``ClinicActor(hand_over=True)``). Each change of the held set asks for a configuration
reload, so the supervisor starts and stops clinic actors to match.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import pykka

from actors.directory import ClinicDirectory
from actors.messages import LeaseTick, Notification, ReleaseLeases, RunSync, StopClaiming
from actors.ticker import Ticker
from daemon.observability import metrics
from daemon.store.leases import LEASES_CHANNEL, WORK_CHANNEL, LeaseStore, Renewal

log = logging.getLogger("pims_sync.leases")

#: While clinics are being handed over, the keeper looks again this soon (not a period later).
HANDOVER_RECHECK_S = 0.3


class LeaseKeeper(pykka.ThreadingActor):
    def __init__(
        self,
        *,
        leases: LeaseStore,
        directory: ClinicDirectory,
        on_change: Callable[[], None],
        period_s: float | None = None,
    ) -> None:
        super().__init__()
        self.leases = leases
        self.directory = directory
        self.on_change = on_change
        self.period_s = period_s if period_s is not None else leases.ttl_s / 3
        self.held: dict[uuid.UUID, int] = {}
        self.releasing: dict[uuid.UUID, int] = {}  # clinic → the round it was withdrawn in
        self.rounds = 0
        self.draining = False
        self.ticker: Ticker | None = None
        self._tick_pending = threading.Event()
        self._nudged: set[uuid.UUID] = set()
        self.renewed_at: float | None = None  # monotonic start of the last renewal that worked
        self.suspended = False  # serving stopped after a TTL without renewal

    # -- lifecycle ------------------------------------------------------------------------------

    def on_start(self) -> None:
        for reason in ("acquired", "released", "expired", "lost"):
            metrics.LEASE_CHANGES_TOTAL.labels(reason=reason)  # exported at 0 from the start
        self.ticker = Ticker(self.actor_ref, LeaseTick(), self.period_s, name="lease-timer").start()

    def on_stop(self) -> None:
        if self.ticker is not None:
            self.ticker.stop()

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, LeaseTick):
            return self.tick()
        if isinstance(message, Notification):
            return self.notified(message.channel, message.payload)
        if isinstance(message, StopClaiming):
            return self.start_draining()
        if isinstance(message, ReleaseLeases):
            return self.release_everything()
        raise TypeError(f"LeaseKeeper cannot handle {type(message).__name__}")

    # -- notifications -----------------------------------------------------------------------

    def notified(self, channel: str, payload: str) -> None:
        if channel == LEASES_CHANNEL:
            # Coalesce a burst of releases into one round.
            if not self._tick_pending.is_set() and self.actor_ref.is_alive():
                self._tick_pending.set()
                self.actor_ref.tell(LeaseTick())
        elif channel == WORK_CHANNEL:
            clinic, _, sync = payload.partition(" ")
            try:
                clinic_id, sync_id = uuid.UUID(clinic), uuid.UUID(sync)
            except ValueError:
                return
            actor = self.directory.actor_for(clinic_id)
            if actor is not None:
                actor.tell(RunSync(sync_id))

    # -- one round ------------------------------------------------------------------------------

    def tick(self) -> dict[str, int]:
        self._tick_pending.clear()
        try:
            return self._round()
        except Exception:
            # The keeper must outlive any one bad round: the next one starts from the
            # database's view again.
            log.exception("lease round failed")
            return {}

    def _round(self) -> dict[str, int]:
        self.rounds += 1
        began = time.monotonic()
        try:
            renewal = self.leases.renew(draining=self.draining)
        except Exception as error:
            # /ready turns 503 once the TTL passes without a renewal; fenced writes stop
            # by themselves if another replica takes our clinics meanwhile.
            log.warning("lease renewal failed: %s", type(error).__name__)
            self._give_up_if_expired()
            return {}
        self.renewed_at = began
        metrics.REPLICAS_LIVE.set(renewal.live)
        changes = {"acquired": 0, "released": 0, "lost": 0}
        changed = self._notice_lost(renewal, changes) or self.suspended
        self.suspended = False
        held = dict(renewal.held)
        for clinic_id in renewal.inactive - set(self.releasing):
            # Deactivated: its actor stops after its current sync; the lease goes next round.
            self.releasing[clinic_id] = self.rounds
            changed = True
        try:
            if not self.draining:
                changed |= self._balance(renewal, held, changes)
            changed |= self._finish_releases(held, changes)
        except Exception as error:
            log.warning("lease balancing failed: %s", type(error).__name__)
        self.held = held
        serving = {c: t for c, t in held.items() if c not in self.releasing}
        self.directory.set_held(serving)
        metrics.LEASES_HELD.set(len(held))
        if changed:
            log.info(
                "leases: %d held (%d acquired, %d released, %d lost), %d live replica(s)",
                len(held),
                changes["acquired"],
                changes["released"],
                changes["lost"],
                renewal.live,
            )
            self.on_change()
        self._nudge_queued(renewal)
        if self.releasing:
            # A hand-over is waiting for its clinic actors to stop: look again shortly rather
            # than a whole renewal period later.
            self._tick_soon()
        return {**changes, "held": len(held)}

    def _give_up_if_expired(self) -> None:
        """No renewal for a whole TTL (the database is out of reach): every lease may have
        expired and another replica may serve the clinics now. Stop saying this replica holds
        them and start no sync for them. Running syncs are left alone: they cannot write while
        the database is away, a new owner's claim fences them out, and the next renewal that
        works stops those of the clinics really lost (``_notice_lost``) and serves the rest
        again."""
        if self.suspended or not self.held or self.renewed_at is None:
            return
        if time.monotonic() - self.renewed_at < self.leases.ttl_s:
            return
        log.warning(
            "no lease renewal for %g s (the TTL): this replica stops serving its %d clinic(s)"
            " until the database answers again",
            self.leases.ttl_s,
            len(self.held),
        )
        self.suspended = True
        self.directory.set_held({}, renewed=False)
        metrics.LEASES_HELD.set(0)
        self.on_change()

    def _tick_soon(self) -> None:
        if self._tick_pending.is_set():
            return
        self._tick_pending.set()
        timer = threading.Timer(HANDOVER_RECHECK_S, self._tell_tick)
        timer.daemon = True
        timer.start()

    def _tell_tick(self) -> None:
        if self.actor_ref.is_alive():
            self.actor_ref.tell(LeaseTick())

    def _notice_lost(self, renewal: Renewal, changes: dict[str, int]) -> bool:
        lost = [c for c, t in self.held.items() if renewal.held.get(c) != t]
        for clinic_id in lost:
            self.releasing.pop(clinic_id, None)
            cancelled = self.directory.cancel_clinic(clinic_id)
            log.warning(
                "lease lost%s",
                " (its running sync is stopped)" if cancelled else "",
                extra={"clinic_id": str(clinic_id)},
            )
        changes["lost"] += len(lost)
        metrics.LEASE_CHANGES_TOTAL.labels(reason="lost").inc(len(lost))
        # A lease we no longer hold but did not know of (a restart) is no change of ours.
        return bool(lost) or set(renewal.held) != set(self.held)

    def _balance(
        self, renewal: Renewal, held: dict[uuid.UUID, int], changes: dict[str, int]
    ) -> bool:
        share = math.ceil(renewal.active / max(renewal.live, 1)) if renewal.active else 0
        keeping = len([c for c in held if c not in self.releasing])
        if keeping < share and (renewal.claimable or renewal.missing):
            if renewal.missing:
                self.leases.ensure_rows()
            acquired = self.leases.claim(share - keeping)
            if not acquired:
                return False
            closed = self.leases.close_previous_runs(list(acquired))
            if closed:
                log.warning(
                    "marked %d sync(s) of the previous owner interrupted (lease_lost)", len(closed)
                )
            taken_over = sum(1 for _t, previous in acquired.values() if previous is not None)
            for clinic_id, (token, _previous) in acquired.items():
                held[clinic_id] = token
                self.releasing.pop(clinic_id, None)
            changes["acquired"] += len(acquired)
            metrics.LEASE_CHANGES_TOTAL.labels(reason="acquired").inc(len(acquired))
            metrics.LEASE_CHANGES_TOTAL.labels(reason="expired").inc(taken_over)
            return True
        surplus = keeping - share
        if surplus <= 0:
            return False
        busy = self.directory.running_clinics()
        candidates = sorted(c for c in held if c not in self.releasing and c not in busy)
        for clinic_id in candidates[:surplus]:
            # Withdrawn now (no new sync starts here); released next round, between syncs.
            self.releasing[clinic_id] = self.rounds
        return bool(candidates[:surplus])

    def _finish_releases(self, held: dict[uuid.UUID, int], changes: dict[str, int]) -> bool:
        if not self.releasing:
            return False
        busy = self.directory.running_clinics()
        ready = [
            c
            for c, withdrawn in self.releasing.items()
            # A later round than the withdrawal: the supervisor has had its chance to stop
            # the clinic's actor, and no sync of the clinic runs here any more.
            if withdrawn < self.rounds and c not in busy and self.directory.actor_for(c) is None
        ]
        if not ready:
            return False
        released = self.leases.release(ready)
        for clinic_id in ready:
            self.releasing.pop(clinic_id, None)
            held.pop(clinic_id, None)
        changes["released"] += len(released)
        metrics.LEASE_CHANGES_TOTAL.labels(reason="released").inc(len(released))
        return True

    def _nudge_queued(self, renewal: Renewal) -> None:
        """The slow-poll fallback: a queued sync of a held clinic that no notification
        reached is told to its actor (once; running it twice is impossible anyway)."""
        seen: set[uuid.UUID] = set()
        for clinic_id, sync_id in renewal.queued:
            seen.add(sync_id)
            if sync_id in self._nudged:
                continue
            actor = self.directory.actor_for(clinic_id)
            if actor is not None:
                actor.tell(RunSync(sync_id))
                self._nudged.add(sync_id)
        self._nudged &= seen

    # -- shutdown -------------------------------------------------------------------------------

    def start_draining(self) -> None:
        """Take no new lease and stop counting for anyone's share."""
        self.draining = True
        self.releasing.clear()

    def release_everything(self) -> int:
        """After the syncs ended: release every lease at once (others take them in seconds)."""
        stuck = self.leases.interrupt_own("the daemon shut down before this sync finished")
        if stuck:
            log.warning("marked %d sync(s) interrupted at shutdown", len(stuck))
        released = self.leases.release_all()
        self.leases.unregister()
        metrics.LEASE_CHANGES_TOTAL.labels(reason="released").inc(released)
        self.held = {}
        self.directory.set_held({})
        metrics.LEASES_HELD.set(0)
        log.info("released %d clinic lease(s)", released)
        return released
