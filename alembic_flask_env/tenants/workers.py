"""Migrating the tenants: a canary first, then the rest, one at a time or
in worker processes, stopping or going on after a failure as set.

The workers are forked from the run that loaded the app, so the app is
loaded once in all (never once per tenant, nor once per worker), and each
worker is handed one tenant at a time: a slow tenant holds up one worker,
not a batch, and after a failure (``tenant_failures = stop``) no new
tenant starts while the ones running finish. A worker that dies (killed,
out of memory) fails its tenant, not the run's bookkeeping.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import wait
from typing import TYPE_CHECKING

from .report import FAILED
from .report import SKIPPED
from .report import Progress
from .report import TenantOutcome
from .settings import STOP

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.process import BaseProcess

    from .settings import TenantSettings
    from .source import Tenant

log = logging.getLogger(__name__)

MigrateOne = Callable[["Tenant"], TenantOutcome]


def run_tenants(
    tenants: list[Tenant],
    migrate_one: MigrateOne,
    settings: TenantSettings,
    *,
    before_workers: Callable[[], None],
    in_worker: Callable[[], None],
    leaving_worker: Callable[[], None] = lambda: None,
) -> tuple[list[TenantOutcome], int]:
    """Migrate ``tenants`` with ``migrate_one`` (which never raises for a
    tenant's failure: it returns a failed outcome), as ``settings`` say.

    :param before_workers: called before the workers are forked, to close
        what they must not inherit (pooled connections).
    :param in_worker: called first in each worker process, to let go of
        what it inherited anyway without touching it.
    :param leaving_worker: called last in each worker process (which ends
        without the exit hooks of a normal exit), to flush what it buffered.
    :returns: an outcome per tenant, in the order given (``skipped`` for
        those never started), and the number of jobs that ran.
    """
    progress = Progress(len(tenants))
    outcomes: dict[str, TenantOutcome] = {}

    def finished(outcome: TenantOutcome) -> bool:
        """Record it; whether the run goes on."""
        outcomes[outcome.tenant] = outcome
        progress.finished(outcome)
        return outcome.status != FAILED or settings.failures != STOP

    canaries, rest = tenants[: settings.canary], tenants[settings.canary :]
    going_on = True
    for tenant in canaries:
        outcome = migrate_one(tenant)
        finished(outcome)
        if outcome.status == FAILED:
            going_on = False
            log.error(
                "Canary tenant %r failed: no other tenant was started"
                " (tenant_canary = %d).",
                tenant.name,
                settings.canary,
            )
            break
    jobs = min(settings.jobs, len(rest)) or 1
    if going_on and jobs > 1 and "fork" not in multiprocessing.get_all_start_methods():
        log.warning(
            "tenant_jobs = %d: this platform cannot fork worker processes;"
            " migrating one tenant at a time.",
            settings.jobs,
        )
        jobs = 1
    if going_on and jobs == 1:
        for tenant in rest:
            if not finished(migrate_one(tenant)):
                break
    elif going_on:
        before_workers()
        _in_workers(rest, migrate_one, jobs, finished, (in_worker, leaving_worker))
    return [
        outcomes.get(tenant.name, TenantOutcome(tenant.name, SKIPPED))
        for tenant in tenants
    ], jobs


@dataclass
class _Worker:
    process: BaseProcess
    connection: Connection
    #: The index of the tenant it migrates, if any.
    tenant: int | None = None
    started: float = 0.0


def _in_workers(
    tenants: list[Tenant],
    migrate_one: MigrateOne,
    jobs: int,
    finished: Callable[[TenantOutcome], bool],
    hooks: tuple[Callable[[], None], Callable[[], None]],
) -> None:
    forking = multiprocessing.get_context("fork")
    # What this process has buffered would otherwise be written again by
    # each worker.
    sys.stdout.flush()
    sys.stderr.flush()
    workers: list[_Worker] = []
    parent = os.getpid()
    for _ in range(jobs):
        ours, theirs = forking.Pipe()
        process = forking.Process(
            target=_work,
            args=(theirs, tenants, migrate_one, hooks, parent),
            daemon=True,
        )
        process.start()
        theirs.close()
        workers.append(_Worker(process, ours))
    upcoming = iter(range(len(tenants)))
    #: Tenants handed to a worker that had died meanwhile, to hand again.
    returned: list[int] = []
    going_on = True

    def next_tenant() -> int | None:
        if not going_on:
            return None
        return returned.pop() if returned else next(upcoming, None)

    def hand_out(worker: _Worker) -> None:
        index = next_tenant()
        worker.tenant = index
        worker.started = time.monotonic()
        try:
            worker.connection.send(index)
        except OSError:  # it died since its last outcome
            if index is not None:
                returned.append(index)
            worker.tenant = None

    try:
        for worker in workers:
            hand_out(worker)
        while busy := [worker for worker in workers if worker.tenant is not None]:
            ready = wait(
                [worker.connection for worker in busy]
                + [worker.process.sentinel for worker in busy]
            )
            for worker in busy:
                if not {worker.connection, worker.process.sentinel} & set(ready):
                    continue
                outcome = _outcome_of(worker, tenants)
                if outcome is None:
                    continue
                going_on = finished(outcome) and going_on
                if worker.process.is_alive():
                    hand_out(worker)
                else:
                    worker.tenant = None
        # Every worker has ended, and tenants are left only when the workers
        # died (out of memory, killed): this process migrates those.
        left = [index for index in iter(next_tenant, None)]
        if left:
            log.warning(
                "Every worker process ended; migrating the %d tenants left in"
                " this process.",
                len(left),
            )
        for index in left:
            if not finished(migrate_one(tenants[index])):
                break
    finally:
        for worker in workers:
            if worker.process.is_alive():
                with contextlib.suppress(OSError):
                    worker.connection.send(None)
        for worker in workers:
            worker.process.join(timeout=60)
            if worker.process.is_alive():
                worker.process.terminate()
                worker.process.join()
            worker.connection.close()


def _outcome_of(worker: _Worker, tenants: list[Tenant]) -> TenantOutcome | None:
    """What the worker says of its tenant; a failed outcome if it died."""
    assert worker.tenant is not None
    tenant = tenants[worker.tenant]
    try:
        if worker.connection.poll():
            outcome: TenantOutcome = worker.connection.recv()
            return outcome
    except (EOFError, OSError):
        pass
    if worker.process.is_alive():
        return None  # (its sentinel is not ready after all)
    worker.process.join()
    return TenantOutcome(
        tenant.name,
        FAILED,
        seconds=time.monotonic() - worker.started,
        error=(
            f"its worker process ended (exit code {worker.process.exitcode})"
            " before the tenant finished; whatever it had not committed was"
            " rolled back by the database."
        ),
    )


def _work(
    connection: Connection,
    tenants: list[Tenant],
    migrate_one: MigrateOne,
    hooks: tuple[Callable[[], None], Callable[[], None]],
    parent: int,
) -> None:
    end_with_parent(parent)
    starting, leaving = hooks
    starting()
    try:
        while True:
            try:
                index = connection.recv()
            except EOFError:  # the run ended (or was killed)
                return
            if index is None:
                return
            connection.send(migrate_one(tenants[index]))
    finally:
        leaving()


#: prctl(2)'s option: the signal the kernel sends this process when the
#: thread that forked it ends.
_PR_SET_PDEATHSIG = 1
#: How often a worker without prctl checks that its parent is alive.
_PARENT_CHECK_SECONDS = 0.5


def end_with_parent(parent: int) -> None:
    """In a worker: be killed when the run that forked it ends, however it
    ends. A run killed with SIGKILL (a deploy pod evicted, a CI job
    cancelled) runs no cleanup, and its workers would go on migrating the
    tenant each was handed (a long data migration: minutes) while the next
    run starts. SIGKILL, which no code of a revision can catch: their
    transactions roll back and their locks end with their connections. Linux: the kernel
    sends it (``PR_SET_PDEATHSIG``); elsewhere a thread watches for the
    parent's end.
    """
    if _kill_me_with_parent():
        if os.getppid() != parent:  # it died before prctl took effect
            os.kill(os.getpid(), signal.SIGKILL)
        return

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(_PARENT_CHECK_SECONDS)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(
        target=watch, name="alembic_flask_env parent watch", daemon=True
    ).start()


def _kill_me_with_parent() -> bool:
    """Ask Linux for SIGKILL when the parent ends; whether it agreed."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False
