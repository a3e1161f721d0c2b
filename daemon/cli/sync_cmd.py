"""``pims-sync sync TYPE --clinic ID``: one sync in the foreground (contract §2.1, §2.2).

The sync runs in a worker thread through the same :class:`SyncRunner` the daemon uses, and the
same ``schedule_syncs`` rules apply: a sync of that type already queued or running for the
clinic (by the daemon, or another CLI) is refused; a sync of another type running for the
clinic is waited for. The main thread polls the row and draws a progress bar on stderr; stdout
gets only the result. Ctrl-C (or SIGTERM) stops the run between batches (``interrupted``).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from daemon.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    CliFailure,
    add_json_flag,
    clinic_id_arg,
    emit,
    open_store,
    table,
    usage_error,
)
from daemon.cli.values import integer_value
from daemon.config import Settings
from daemon.sync.ranges import LOOKBACK_LIMITS, PARALLEL_LIMITS, InvalidRange, check_range
from daemon.sync.requests import DEFAULT_LOOKBACK_DAYS, DEFAULT_PARALLEL_BATCH_SIZE, SyncRequest
from daemon.validation import InvalidValue, local_date, sane_date, sync_type

if TYPE_CHECKING:
    from daemon.store import Store
    from daemon.store.syncs import SyncInProgress, SyncRecord

POLL_S = 0.25
#: While this sync waits behind another, dead runs are looked for this often.
SWEEP_WHILE_QUEUED_S = 5.0


def register(commands: Any) -> None:
    sync = commands.add_parser(
        "sync",
        help="run one sync in the foreground",
        description="Run one sync for a clinic now, with a progress bar on stderr.",
    )
    sync.add_argument("type", metavar="TYPE", help="inbound, cases or reconciliation")
    sync.add_argument("--clinic", required=True, help="the clinic's id")
    sync.add_argument("--start", help="first local date YYYY-MM-DD (inbound, cases)")
    sync.add_argument("--end", help="last local date YYYY-MM-DD (inbound, cases)")
    sync.add_argument("--lookback-days", help="1..90, default 7 (reconciliation)")
    sync.add_argument("--parallel", help="PIMS requests at once, 1..20, default 5 (cases)")
    sync.add_argument(
        "--full",
        action="store_true",
        help="inbound, cases: rewrite every row (forceFullSync); never overrides the guard",
    )
    sync.add_argument(
        "--force",
        action="store_true",
        help="inbound, reconciliation: override the deletion guard "
        "(on cases: a deprecated alias of --full)",
    )
    add_json_flag(sync)
    sync.set_defaults(handler=run_sync)


# -- arguments -------------------------------------------------------------------------------


def _int_in(value: str | None, flag: str, limits: tuple[int, int], default: int) -> int:
    if value is None:
        return default
    try:
        return integer_value(value, flag, *limits)
    except InvalidValue as exc:
        raise usage_error(str(exc)) from None


def _dates(args: argparse.Namespace, kind: str) -> tuple[date | None, date | None]:
    if kind == "reconciliation":
        for flag, value in (("--start", args.start), ("--end", args.end)):
            if value is not None:
                raise usage_error(
                    f"{flag}: not allowed for reconciliation (its window is --lookback-days)"
                )
        return None, None
    if (args.start is None) != (args.end is None):
        missing = "--end" if args.end is None else "--start"
        raise usage_error(f"{missing}: --start and --end go together")
    if args.start is None:
        return None, None
    try:
        start = _sane(local_date(args.start, "--start"), "--start")
        end = _sane(local_date(args.end, "--end"), "--end")
        check_range(start, end, start_field="--start", end_field="--end")
    except (InvalidValue, InvalidRange) as exc:
        raise usage_error(str(exc)) from None
    return start, end


def _sane(day: date, flag: str) -> date:
    """A date inside the window the HTTP API accepts: outside it, a typing mistake (a year
    0001 was sent to the PIMS; a year 9999 ran a 'completed' sync of nothing)."""
    return sane_date(day, flag, datetime.now(UTC).date())


def parse_request(args: argparse.Namespace) -> tuple[uuid.UUID, SyncRequest]:
    """The clinic and the request, or exit 2 naming the argument and the rule."""
    try:
        kind = sync_type(args.type, "TYPE")
    except InvalidValue as exc:
        raise usage_error(str(exc)) from None
    clinic_id = clinic_id_arg(args.clinic)
    start, end = _dates(args, kind)
    if args.lookback_days is not None and kind != "reconciliation":
        raise usage_error(f"--lookback-days: only for reconciliation (not {kind})")
    if args.parallel is not None and kind != "cases":
        # The cases sync's parallelBatchSize (contract §3.2): no other type has the setting.
        raise usage_error(f"--parallel: only for cases (not {kind})")
    lookback = _int_in(
        args.lookback_days, "--lookback-days", LOOKBACK_LIMITS, DEFAULT_LOOKBACK_DAYS
    )
    parallel = _int_in(args.parallel, "--parallel", PARALLEL_LIMITS, DEFAULT_PARALLEL_BATCH_SIZE)
    full, force = _force_flags(args, kind)
    request = SyncRequest(
        sync_type=kind,
        trigger="cli",
        start_date=start,
        end_date=end,
        parallel_batch_size=parallel,
        force_full_sync=full,
        lookback_days=lookback,
        force=force,
    )
    return clinic_id, request


def _force_flags(args: argparse.Namespace, kind: str) -> tuple[bool, bool]:
    """``(forceFullSync, force)``: ``--full`` rewrites rows, ``--force`` overrides the deletion
    guard (contract §7); the two are never implied by each other."""
    full, force = bool(args.full), bool(args.force)
    if full and kind == "reconciliation":
        raise usage_error("--full: only for inbound and cases (reconciliation has --force)")
    if force and kind == "cases":
        # cases has no guard: --force used to mean "rewrite every row" there, and still does.
        print(
            "pims-sync: warning: --force on cases is deprecated; use --full",
            file=sys.stderr,
        )
        return True, False
    return full, force


# -- running ---------------------------------------------------------------------------------


def _conflict(args: argparse.Namespace, error: SyncInProgress) -> int:
    message = (
        f"a {error.sync_type} sync is already {error.status} for this clinic ({error.sync_id})"
    )
    if not args.json:
        raise CliFailure(message)
    body = {
        "success": False,
        "error": {"code": "sync_in_progress", "message": message},
        "syncId": str(error.sync_id),
    }
    emit(body, args, message)
    return EXIT_FAILED


STOPPING = "stopping the sync (Ctrl-C again to quit at once)…\n"


@contextmanager
def _stop_on_signals(cancel: threading.Event) -> Iterator[None]:
    """The first Ctrl-C (SIGINT) or SIGTERM stops the run between batches, so its row ends
    ``interrupted``; a second one quits at once (``KeyboardInterrupt``, exit 130).

    The first is not a ``KeyboardInterrupt``: raised in the main thread it could land before
    the wait for the worker began (the row, already queued, was then left ``queued``), or inside
    ``Thread.join``, after which Python 3.11 reports the still-working thread as finished (the
    command printed a ``running`` row, exited, and the row stayed ``running``). Both blocked
    the clinic's next sync of that type.
    """

    def stop(_signum: int, _frame: object) -> None:
        if cancel.is_set():
            raise KeyboardInterrupt
        cancel.set()
        os.write(2, STOPPING.encode())  # a handler must not re-enter sys.stderr's buffer

    try:
        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread (embedded use): leave signals alone
        yield
        return
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _sweep_stale(store: Store) -> None:
    """Mark runs whose heartbeat stopped ``interrupted``: contract §5.1's rule, which the
    daemon's sweeper applies once a minute. With no daemon running (it is down, or this is a
    laptop on SQLite) nothing else would, and a killed run would refuse this clinic's next
    sync of its type (409) and hold every other type waiting, for good."""
    from daemon.store.syncs import HEARTBEAT_TIMEOUT

    for sync_id in store.syncs.interrupt_stale(
        heartbeat_older_than=HEARTBEAT_TIMEOUT, include_queued=False
    ):
        print(
            f"pims-sync: warning: sync {sync_id} had stopped reporting for over "
            f"{int(HEARTBEAT_TIMEOUT.total_seconds() // 60)} minutes (its process died): "
            "marked interrupted",
            file=sys.stderr,
        )


class _Waiter:
    """Waits for the worker thread to end, sweeping dead runs while this sync is still queued
    behind one of them."""

    def __init__(self, store: Store, sync_id: uuid.UUID, finished: threading.Event) -> None:
        self.store = store
        self.sync_id = sync_id
        self.finished = finished
        self._next_sweep = time.monotonic() + SWEEP_WHILE_QUEUED_S

    def wait(self, seconds: float) -> bool:
        """True once the worker ended; else, after ``seconds``, False."""
        if self.finished.wait(seconds):
            return True
        if time.monotonic() >= self._next_sweep:
            self._next_sweep = time.monotonic() + SWEEP_WHILE_QUEUED_S
            row = self.store.syncs.get(self.sync_id)
            if row is not None and row.status == "queued":
                _sweep_stale(self.store)
        return False


def _watch(store: Store, waiter: _Waiter, kind: str) -> None:
    """Draw the row's progress on stderr until the worker thread ends.

    Only for a person at a terminal: a script or a log collector reading stderr gets no bar, and
    the sync is then not slowed by reading its own row four times a second to draw one.
    """
    if not sys.stderr.isatty():
        while not waiter.wait(POLL_S):  # returns as soon as the sync ends
            pass
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[state]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(f"{kind} sync", total=None, state="queued")
        while not waiter.finished.is_set():
            row = store.syncs.get(waiter.sync_id)
            if row is not None:
                state = (
                    "waiting for the clinic's running sync"
                    if row.status == "queued"
                    else row.status
                )
                bar.update(
                    task, total=row.total_items or None, completed=row.processed_items, state=state
                )
            waiter.wait(POLL_S)


def _run(
    store: Store,
    settings: Settings,
    clinic_id: uuid.UUID,
    request: SyncRequest,
    args: argparse.Namespace,
) -> SyncRecord | int:
    from daemon.cli.common import LazyBrowserPool as BrowserPool  # Playwright when needed
    from daemon.store.syncs import SyncInProgress
    from daemon.sync.providers import ProviderFactory
    from daemon.sync.runner import SyncRunner

    # One browser at most, launched only if the cached session is missing or dead.
    browsers = BrowserPool(size=1, chromium_path=settings.chromium_path)
    runner = SyncRunner(store, ProviderFactory(store, browsers))
    cancel = threading.Event()
    finished = threading.Event()
    outcome: dict[str, Any] = {}
    # From before the row exists: a Ctrl-C at any moment after it is queued reaches the run.
    with _stop_on_signals(cancel):
        try:
            queued = runner.enqueue(clinic_id, request)
        except SyncInProgress as error:
            return _conflict(args, error)

        def work() -> None:
            try:
                outcome["record"] = runner.run(queued.id, cancel)
            except BaseException as error:  # reported by the main thread
                outcome["error"] = error
            finally:
                finished.set()

        worker = threading.Thread(target=work, name="sync", daemon=True)
        try:
            worker.start()
            _watch(store, _Waiter(store, queued.id, finished), request.sync_type)
        finally:
            browsers.stop()
    if "error" in outcome:
        raise outcome["error"]
    record = outcome.get("record") or store.syncs.get(queued.id)
    if record is None:
        raise CliFailure(f"sync {queued.id} vanished from schedule_syncs")
    return record


def _summary(record: SyncRecord) -> str:
    seconds = (record.duration_ms or 0) / 1000
    lines = [f"sync {record.id}  {record.sync_type}  {record.status}  ({seconds:.1f} s)"]
    if record.start_date and record.end_date:
        lines.append(f"dates {record.start_date} … {record.end_date}")
    lines.append("")
    lines.append(table(["STAT", "COUNT"], [[k, str(v)] for k, v in record.stats.items()]))
    if record.errors:
        lines.append("")
        lines.append(
            table(
                ["ERROR", "ITEM", "MESSAGE"],
                [[e["code"], str(e.get("itemId", "")), str(e["message"])] for e in record.errors],
            )
        )
    return "\n".join(lines)


def run_sync(args: argparse.Namespace, settings: Settings) -> int:
    from daemon.store.clinics import ClinicNotFound
    from daemon.store.syncs import SyncInProgress

    clinic_id, request = parse_request(args)
    store = open_store(settings)
    try:
        store.clinics.get(clinic_id)
    except ClinicNotFound as exc:
        raise CliFailure(str(exc)) from None
    _sweep_stale(store)
    active = store.syncs.active_of_type(clinic_id, request.sync_type)
    if active is not None:
        return _conflict(args, SyncInProgress(active.id, active.sync_type, active.status))
    result = _run(store, settings, clinic_id, request, args)
    if isinstance(result, int):
        return result
    emit(result.result_json(), args, _summary(result))
    return EXIT_OK if result.status == "completed" else EXIT_FAILED
