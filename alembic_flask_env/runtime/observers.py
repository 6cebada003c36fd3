"""What watches each revision of a run end, as one ``on_version_apply``.

Four observers follow a run, and each needs the step when it ends: the
lock check (a lost lock stops the run before the step commits), the run
report (``Finished upgrade a -> b in 0.42 s``), the ledger (the step's row,
in the step's transaction) and telemetry (a span per step). Their order
matters and is written down once, in :class:`RunObservers`: the ledger
first notes which step is ending (the one a lost lock stops), then the
lock check, so that a step rolled back for a lost lock is neither reported
nor recorded as applied.

Alembic builds a new ``MigrationInfo`` and a set of the heads for each hook
it calls, which for five hooks was most of what the environment cost per
revision; the observers are handed to Alembic as one hook.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING
from typing import Any

from alembic import context

from ..ledger.telemetry import run_telemetry
from .command import destination
from .command import migrates_own_engine
from .command import writes_versions
from .lock.check import LockCheck
from .run_report import RunReport

if TYPE_CHECKING:
    from alembic.runtime.migration import MigrationContext
    from alembic.runtime.migration import MigrationInfo
    from alembic.script import Script
    from sqlalchemy.engine import Connection

    from ..ledger.recorder import LedgerRecorder
    from ..ledger.settings import LedgerSettings
    from ..ledger.telemetry import RunTelemetry
    from .connection import Target


class RunObservers:
    """The observers of one run on one database; the ledger and telemetry
    are None where the run has none.
    """

    def __init__(
        self,
        report: RunReport,
        lock_check: LockCheck,
        ledger: LedgerRecorder | None,
        telemetry: RunTelemetry | None,
    ) -> None:
        self.report = report
        self.lock_check = lock_check
        self.ledger = ledger
        self.telemetry = telemetry
        hooks: list[Callable[..., None]] = []
        if ledger is not None:
            hooks.append(ledger.step_ending)
        hooks += [lock_check.on_version_apply, report.on_version_apply]
        if ledger is not None:
            hooks.append(ledger.on_version_apply)
        if telemetry is not None:
            hooks.append(telemetry.on_version_apply)
        self._hooks = tuple(hooks)

    def on_version_apply(
        self,
        *,
        ctx: MigrationContext,
        step: MigrationInfo,
        heads: set[str],
        run_args: dict[str, Any],
    ) -> None:
        """Each observer in order; the first to raise stops the rest, as
        Alembic's own loop over its hooks would.
        """
        for hook in self._hooks:
            hook(ctx=ctx, step=step, heads=heads, run_args=run_args)

    def command_known(self, command: str) -> None:
        """Alembic is configured: the command's name is known now."""
        if self.ledger is not None:
            self.ledger.command = command
        if self.telemetry is not None:
            self.telemetry.command = command

    @contextmanager
    def spans(self) -> Iterator[None]:
        """The run's telemetry span, around the revisions and what follows
        them; with the time the deploy lock was waited for.
        """
        if self.telemetry is None:
            yield
            return
        with self.telemetry.run(destination()):
            held = self.lock_check.held
            self.telemetry.lock_waited(held.waited if held is not None else 0.0)
            yield

    def failed(
        self, connection: Connection, explained: Exception, script: Script | None
    ) -> None:
        """Record a failed run (rolled back by now where the database can)."""
        if self.ledger is not None:
            self.ledger.record_failure(connection, explained, script)
        if self.telemetry is not None:
            self.telemetry.failed_step(
                script.revision if script is not None else None, explained
            )


def watch_run(
    target: Target,
    options: dict[str, Any],
    ledger_settings: LedgerSettings,
    where: str,
    app_name: str,
) -> RunObservers:
    """The observers a run on ``target`` needs: the ledger only for the
    commands that write ``alembic_version`` on the app's own engine, and
    telemetry only online.
    """
    ledger = (
        _ledger_recorder()(
            ledger_settings,
            options.get("version_table_schema"),
            app_name,
            target.engine.url,
            command="",
            version_table=options.get("version_table", "alembic_version"),
        )
        if ledger_settings.enabled and writes_versions() and migrates_own_engine()
        else None
    )
    telemetry = (
        run_telemetry(target.dialect.name, where.strip(" ()"))
        if writes_versions() and not context.is_offline_mode()
        else None
    )
    return RunObservers(
        RunReport(where),
        LockCheck(one_transaction=not options.get("transaction_per_migration")),
        ledger,
        telemetry,
    )


def _ledger_recorder() -> type[LedgerRecorder]:
    """The recorder class, imported only by the commands that write
    ``alembic_version`` (it reads package metadata and the host's name).
    """
    from ..ledger.recorder import LedgerRecorder

    return LedgerRecorder
