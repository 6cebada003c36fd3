"""Writing the ledger during a run.

A step's row is written in the step's own transaction (Alembic calls
``on_version_apply`` inside it; on PostgreSQL the rows of a transaction are
written together just before it commits), so it commits exactly when the
step does: a run killed with ``kill -9`` leaves the rows of the steps that
committed.
A failure rolls back the run's transaction, and with it the rows of the
steps it undid, but not always all of them: an autocommit block commits the
run's transaction before it, and MySQL commits before every DDL statement.
So after the rollback the table itself is asked how many of the run's rows
it kept; the rest (``rolled back``) and the failed step's (``failed``) are
written, in a transaction of their own. An ``--sql`` script's rows take
when and by whom they are applied from the database that runs it.
The ledger is a record, never a reason to block a deploy: a table that
cannot be created or written is one warning, unless ``migration_ledger =
required``.
"""

from __future__ import annotations

import functools
import getpass
import logging
import os
import re
import sys
import time
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from typing import TYPE_CHECKING
from typing import Any

import alembic
import sqlalchemy
from alembic.util import to_tuple
from sqlalchemy import event
from sqlalchemy import func
from sqlalchemy import select

from ..errors import LedgerUnavailable
from ..errors import first_line
from ..settings import LEDGER_KEY
from ..url_masking import MASK
from ..url_masking import is_secret_parameter
from ..url_masking import scrub
from .insert import PreparedInsert
from .settings import check_table_name
from .shape import ensure_table
from .shape import ensure_table_offline
from .steps import DIRECTIONS
from .steps import direction_of
from .steps import revisions_of
from .table import COMMAND_LENGTH
from .table import ERROR_LENGTH
from .table import MYSQL_DIALECTS
from .table import VERSION_TABLE_COLUMN
from .table import ledger_table

if TYPE_CHECKING:
    from alembic.runtime.migration import MigrationContext
    from alembic.runtime.migration import MigrationInfo
    from alembic.script import Script
    from sqlalchemy import Table
    from sqlalchemy.engine import URL
    from sqlalchemy.engine import Connection

    from .settings import LedgerSettings

log = logging.getLogger(__name__)

#: user:password@ in a URL anywhere in a text.
_USERINFO = r"(?P<scheme>\b[a-z][\w+.-]*://)[^@/\s]+@"
DEFAULT_VERSION_TABLE = "alembic_version"


class LedgerRecorder:
    """The ledger of one run on one database (one bind)."""

    def __init__(
        self,
        settings: LedgerSettings,
        schema: str | None,
        app_name: str,
        url: URL,
        command: str,
        version_table: str = DEFAULT_VERSION_TABLE,
    ) -> None:
        check_table_name(settings, url.get_backend_name(), version_table)
        self.settings = settings
        self.table = _ledger_table(settings.table, schema, url.get_backend_name())
        #: For the rows of a failure (executemany).
        self._insert = self.table.insert()
        #: Each step's row: compiled once, for the run's connection.
        self._prepared: PreparedInsert | None = None
        self.url = url
        self.command = command
        self.usable = True
        self._created = False
        #: The rows written since the last failure (or the start), in the
        #: order their steps ended: some may have been committed since
        #: (each step's own transaction, a commit forced by an autocommit
        #: block or by MySQL's DDL), the rest undone by a rollback.
        self.uncommitted: list[dict[str, Any]] = []
        #: The rows of this run known to be in the table besides those.
        self._kept = 0
        #: Rows of steps not yet committed, written just before the commit
        #: (:meth:`_batched`), and the connection whose commits write them.
        self._pending: list[dict[str, Any]] = []
        self._listening: Connection | None = None
        #: The step whose ``on_version_apply`` hooks are running: the one a
        #: failure in them (a lost lock) stopped.
        self._ending: MigrationInfo | None = None
        self._last = time.perf_counter()
        self._context = {
            "run_id": _run_id(),
            "os_user": _os_user(),
            "host": _host_name()[:255],
            "command": _masked_command(sys.argv, url)[:COMMAND_LENGTH],
            "app": app_name[:255],
            "versions": _versions(),
            VERSION_TABLE_COLUMN: version_table[:255],
        }

    # -- before the run -------------------------------------------------

    def prepare_offline(self, context: MigrationContext) -> None:
        """The offline script creates the table when it is not there, and
        brings an older one to the current shape.
        """
        ensure_table_offline(context, self.table)

    # -- each step --------------------------------------------------------

    def step_ending(
        self,
        *,
        ctx: MigrationContext,
        step: MigrationInfo,
        heads: set[str],
        run_args: dict[str, Any],
    ) -> None:
        """The first ``on_version_apply`` hook: which step is ending, in
        case a later hook (the lock's check) stops the run in it.
        """
        self._ending = step

    def on_version_apply(
        self,
        *,
        ctx: MigrationContext,
        step: MigrationInfo,
        heads: set[str],
        run_args: dict[str, Any],
    ) -> None:
        self._ending = None
        if not self.usable:
            return
        revision, source = revisions_of(step)
        direction = direction_of(step)
        if ctx.as_sql:
            ctx.execute(
                self.table.insert().values(
                    **self._offline_row(ctx.dialect.name),
                    revision=revision,
                    from_revision=source,
                    direction=direction,
                )
            )
            return
        row = self._row(
            revision=revision,
            from_revision=source,
            direction=direction,
            outcome="applied",
        )
        connection = ctx.connection
        assert connection is not None
        if self._batched(connection):
            self._pending.append(row)
            self.uncommitted.append(row)
            return
        try:
            self._write(connection, row)
        except Exception as error:
            self._unusable("write", error)
            return
        self.uncommitted.append(row)

    def _batched(self, connection: Connection) -> bool:
        """Whether the step's row waits for its transaction's commit, to be
        written then with the other rows of that transaction: on
        PostgreSQL (whose DDL is transactional, so the commit is the only
        one), unless ``required`` (where a row that cannot be written must
        stop the step before anything commits, not fail a commit). The
        rows still commit exactly when their steps do; one savepoint and
        one INSERT per transaction instead of three statements per step.
        """
        if self.settings.required or connection.dialect.name != "postgresql":
            return False
        if self._listening is not connection:
            event.listen(connection, "commit", self._flush)
            event.listen(connection, "rollback", self._drop_pending)
            self._listening = connection
        return True

    def _flush(self, connection: Connection) -> None:
        """Before a commit (the run's, a step's, or the one an autocommit
        block forces): the rows of the steps it commits, in its
        transaction. A failure is a warning, as a row written at its step
        would be: the savepoint keeps it from aborting the migration's
        transaction.
        """
        rows, self._pending = self._pending, []
        if not rows or not self.usable:
            return
        try:
            if connection.connection.driver_connection is not None and getattr(
                connection.connection.driver_connection, "autocommit", False
            ):
                self._insert_rows(connection, rows)
            else:
                with connection.begin_nested():
                    self._insert_rows(connection, rows)
        except Exception as error:
            self._unusable("write", error)

    def _insert_rows(self, connection: Connection, rows: list[dict[str, Any]]) -> None:
        if not self._created:
            ensure_table(connection, self.table)
            self._created = True
        # (executemany: psycopg 3 sends the rows in one pipeline.)
        self._prepared_for(connection).execute_many(connection, rows)

    def _prepared_for(self, connection: Connection) -> PreparedInsert:
        """The INSERT compiled for the connection's dialect: this run's, or
        the previous run's in this process (a worker's tenants share the
        table and the dialect).
        """
        global _last_prepared
        prepared = self._prepared
        if prepared is not None and prepared.dialect is connection.dialect:
            return prepared
        last = _last_prepared
        if (
            last is not None
            and last[0] is self.table
            and last[1].dialect is (connection.dialect)
        ):
            prepared = last[1]
        else:
            prepared = PreparedInsert(self.table, connection.dialect)
            _last_prepared = (self.table, prepared)
        self._prepared = prepared
        return prepared

    def _drop_pending(self, connection: Connection) -> None:
        """A rollback undid the steps of the rows not yet written: they are
        in :attr:`uncommitted`, which a failure records as rolled back.
        """
        self._pending = []

    def _write(self, connection: Connection, row: dict[str, Any]) -> None:
        """The row, in the step's transaction; the table is created with the
        first row (a run that applies nothing leaves the database as it
        was). On PostgreSQL a savepoint keeps a failure here from ending the
        step's transaction: the step matters more than its record. Every
        row gets one, not only the first: a later insert can fail too (a
        lock wait on the table, a merge's long list of revisions), and
        without a savepoint PostgreSQL would abort the run's transaction,
        whose COMMIT then rolls back the migration without a word.
        """
        prepared = self._prepared_for(connection)
        if connection.dialect.name == "postgresql":
            with connection.begin_nested():
                if not self._created:
                    ensure_table(connection, self.table)
                prepared.execute(connection, row)
        else:
            # (MySQL commits DDL at once, which ends a savepoint; pysqlite's
            # SAVEPOINTs do not nest in its transactions.)
            if not self._created:
                ensure_table(connection, self.table)
            prepared.execute(connection, row)
        self._created = True

    def record_phase(
        self,
        connection: Connection,
        revision: str,
        from_revision: str | None,
        direction: str,
        outcome: str,
        detail: str,
        started: float,
    ) -> None:
        """A row for a phase of an expand/contract revision (``expand``,
        ``backfill``, ``contract``, ``abort``), in the connection's
        transaction, timed from ``started`` (``time.perf_counter()``). Its
        ``error`` column holds ``detail`` (what changed, how many rows):
        the ledger has no other free-text column, and ``ledger`` prints it
        after the step.
        """
        if not self.usable:
            return
        self._last = started
        row = self._row(
            revision=revision,
            from_revision=from_revision,
            direction=direction[:10],
            outcome=outcome[:12],
        )
        row["error"] = detail[:ERROR_LENGTH]
        try:
            self._write(connection, row)
        except Exception as error:
            self._unusable("write", error)

    # -- after a failure ----------------------------------------------------

    def record_failure(
        self,
        connection: Connection,
        error: BaseException,
        failed: Script | None,
    ) -> None:
        """After the rollback: which of the rows written since the last
        failure the database kept (those it did not are written again as
        ``rolled back``), and the failed step's row, ``failed`` in the
        revision file ``failed`` (None: the error came from elsewhere).
        Never raises: the run's own error is the one that matters.
        """
        if not self.usable:
            return
        if connection.invalidated:
            # The database went away: the run's own error says so, and
            # reconnecting to write the row would only add another error.
            log.info(
                "The failure is not recorded in %s: the connection to the"
                " database was lost.",
                self.table.name,
            )
            return
        written, self.uncommitted = self.uncommitted, []
        revision, source, direction = self._failed_step(failed, written)
        failure = self._row(
            revision=revision,
            from_revision=source,
            direction=direction,
            outcome="failed",
            error=self._masked_error(error),
        )
        # The rollback may have taken the new table with it: the next
        # attempt's first row looks for it again.
        self._created = False
        try:
            if connection.in_transaction():
                connection.rollback()
            with connection.begin():
                ensure_table(connection, self.table)
                # Commits happen in the order the steps ended: the rows the
                # table holds are the first of those written.
                kept = self._rows_in_table(connection) - self._kept
                rows = [{**row, "outcome": "rolled back"} for row in written[kept:]]
                connection.execute(self._insert, [*rows, failure])
            self._kept += kept + len(rows) + 1
        except Exception as problem:
            log.warning(
                "Could not record the failure in %s (%s).",
                self.table.name,
                _first_line(problem, self.url),
            )

    def _failed_step(
        self, failed: Script | None, written: list[dict[str, Any]]
    ) -> tuple[str | None, str | None, str]:
        """The failed step's (to, from, direction): the step whose hooks
        were running, else the revision the error came from, else (for an
        error outside any revision) the step after the last written.
        """
        if self._ending is not None:
            ending, self._ending = self._ending, None
            revision, source = revisions_of(ending)
            return revision, source, direction_of(ending)
        direction = self.command if self.command in DIRECTIONS else "upgrade"
        if failed is not None:
            down = ", ".join(to_tuple(failed.down_revision, default=())) or None
            if direction == "downgrade":
                return down, failed.revision, direction
            return failed.revision, down, direction
        last = written[-1]["revision"] if written else None
        return None, last, direction

    def _rows_in_table(self, connection: Connection) -> int:
        table = self.table
        return int(
            connection.scalar(
                select(func.count())
                .select_from(table)
                .where(table.c.run_id == self._context["run_id"])
            )
            or 0
        )

    # -- helpers ------------------------------------------------------------

    def _row(self, **values: Any) -> dict[str, Any]:
        now = time.perf_counter()
        duration, self._last = now - self._last, now
        started = datetime.now(timezone.utc) - timedelta(seconds=duration)
        return {
            **self._context,
            "error": None,
            **values,
            "started_at": started,
            "duration_s": round(duration, 6),
        }

    def _offline_row(self, dialect: str) -> dict[str, Any]:
        """A row of an ``--sql`` script: when and by whom it is applied come
        from the database that runs it (UTC on MySQL, whose DATETIME has
        no zone; SQLite has no users); the other values say where the
        script was made. The steps are not timed.
        """
        return {
            **self._context,
            "error": None,
            "outcome": "applied",
            "started_at": (
                func.utc_timestamp(6)
                if dialect in MYSQL_DIALECTS
                else func.current_timestamp()
            ),
            "os_user": None if dialect == "sqlite" else func.current_user(),
            "duration_s": 0.0,
        }

    def _masked_error(self, error: BaseException) -> str:
        text = _first_line(error, self.url)
        return text[:ERROR_LENGTH]

    def _unusable(self, doing: str, error: Exception) -> None:
        self.usable = False
        message = (
            f"Could not {doing} the ledger table {self.table.name}"
            f" ({_first_line(error, self.url)})"
        )
        if self.settings.required:
            raise LedgerUnavailable(
                f"{message}, and {LEDGER_KEY} = required. Grant the migrating"
                f" user CREATE (and INSERT) there, create {self.table.name} as"
                f" a DBA, or set {LEDGER_KEY} = true to warn and run on."
            ) from None
        log.warning("%s; this run is not recorded.", message)


#: The INSERT of the last run in this process, and its table: the next
#: run over the same engine (a worker's next tenant) compiles nothing.
#: One, not one per dialect: a database tenant brings a dialect of its own.
_last_prepared: tuple[Table, PreparedInsert] | None = None


@functools.lru_cache(maxsize=8)
def _ledger_table(name: str, schema: str | None, dialect: str) -> Table:
    """The ledger's Table, made once per process for each name, schema and
    dialect (building one was a tenant's largest cost in the ledger). No
    run changes it.
    """
    return ledger_table(name, schema, dialect)


def _first_line(error: BaseException, url: URL) -> str:
    """The error's first line, with the secrets of ``url`` and any URL's
    password masked.
    """
    return _without_userinfo(scrub(first_line(error), url))


def _masked_command(argv: list[str], url: URL) -> str:
    """The command line, with each secret ``-x`` value and URL password
    masked.
    """
    words = []
    for word in argv:
        key, equals, _ = word.partition("=")
        if equals and key and is_secret_parameter(key):
            word = f"{key}={MASK}"
        words.append(_without_userinfo(scrub(word, url)))
    return " ".join(words)


def _without_userinfo(text: str) -> str:
    """``text`` with any URL's ``user:password@`` masked. (The pattern is
    compiled only for a text with a URL in it: most command lines have
    none, and compiling it cost every run a millisecond.)
    """
    if "://" not in text:
        return text
    return re.sub(_USERINFO, rf"\g<scheme>{MASK}@", text, flags=re.IGNORECASE)


def _run_id() -> str:
    """32 random hex digits, as ``uuid.uuid4().hex`` gives, without
    importing :mod:`uuid` (which every run paid for, in the ledger's cost).
    """
    return os.urandom(16).hex()


def _host_name() -> str:
    """What ``socket.gethostname()`` says, read from ``uname`` where there
    is one: importing :mod:`socket` cost every run 2 ms.
    """
    if hasattr(os, "uname"):
        return os.uname().nodename
    import socket  # Windows

    return socket.gethostname()


def _os_user() -> str:
    try:
        return getpass.getuser()[:128]
    except Exception:  # no user name in the environment or passwd
        return ""


@functools.cache
def _versions() -> str:
    from importlib import metadata  # (what a run that writes needs only)

    try:
        header = metadata.distribution("alembic-flask-env").read_text("METADATA")
    except metadata.PackageNotFoundError:
        header = None
    # The Version line read directly: Distribution.version parses the
    # whole METADATA as an email message, which cost every run 2 ms.
    ours = next(
        (
            line.partition(":")[2].strip()
            for line in (header or "").splitlines()
            if line.startswith("Version:")
        ),
        "unknown",
    )
    return (
        f"alembic-flask-env {ours}, alembic {alembic.__version__},"
        f" sqlalchemy {sqlalchemy.__version__}"
    )
