"""Writing the ledger during a run.

A step's row is written in the step's own transaction (Alembic calls
``on_version_apply`` inside it), so it commits exactly when the step does: a
run killed with ``kill -9`` leaves the rows of the steps that committed.
A failure rolls back the run's transaction, and with it the rows of the
steps it undid; so after the rollback those rows (``rolled back``) and the
failed step's (``failed``) are written again, in a transaction of their own.
The ledger is a record, never a reason to block a deploy: a table that
cannot be created or written is one warning, unless ``migration_ledger =
required``.
"""

from __future__ import annotations

import functools
import getpass
import logging
import re
import socket
import sys
import time
import uuid
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from typing import TYPE_CHECKING
from typing import Any

import alembic
import sqlalchemy
from sqlalchemy.schema import CreateTable

from ..errors import LedgerUnavailable
from ..errors import first_line
from ..settings import LEDGER_KEY
from ..url_masking import MASK
from ..url_masking import is_secret_parameter
from ..url_masking import scrub
from .steps import direction_of
from .steps import revisions_of
from .table import COMMAND_LENGTH
from .table import ERROR_LENGTH
from .table import ledger_table

if TYPE_CHECKING:
    from alembic.runtime.migration import MigrationContext
    from alembic.runtime.migration import MigrationInfo
    from sqlalchemy.engine import URL
    from sqlalchemy.engine import Connection

    from .settings import LedgerSettings

log = logging.getLogger(__name__)

#: user:password@ in a URL anywhere in a text.
_USERINFO = re.compile(r"(?P<scheme>\b[a-z][\w+.-]*://)[^@/\s]+@", re.IGNORECASE)
_SECRET_ARGUMENT = re.compile(r"^(?P<key>[^=]+)=")


class LedgerRecorder:
    """The ledger of one run on one database (one bind)."""

    def __init__(
        self,
        settings: LedgerSettings,
        schema: str | None,
        app_name: str,
        url: URL,
        command: str,
    ) -> None:
        self.settings = settings
        self.table = ledger_table(settings.table, schema)
        self.url = url
        self.command = command
        self.usable = True
        self._created = False
        #: The rows written in the run's transaction so far, for a rollback.
        self.uncommitted: list[dict[str, Any]] = []
        self._last = time.perf_counter()
        self._context = {
            "run_id": uuid.uuid4().hex,
            "os_user": _os_user(),
            "host": socket.gethostname()[:255],
            "command": _masked_command(sys.argv, url)[:COMMAND_LENGTH],
            "app": app_name[:255],
            "versions": _versions(),
        }

    # -- before the run -------------------------------------------------

    def prepare_offline(self, context: MigrationContext) -> None:
        """The offline script creates the table when it is not there."""
        context.execute(CreateTable(self.table, if_not_exists=True))

    # -- each step --------------------------------------------------------

    def on_version_apply(
        self,
        *,
        ctx: MigrationContext,
        step: MigrationInfo,
        heads: set[str],
        run_args: dict[str, Any],
    ) -> None:
        if not self.usable:
            return
        revision, source = revisions_of(step)
        row = self._row(
            revision=revision,
            from_revision=source,
            direction=direction_of(step),
            outcome="applied",
        )
        statement = self.table.insert().values(**row)
        if ctx.as_sql:
            ctx.execute(statement)
            return
        connection = ctx.connection
        assert connection is not None
        try:
            self._write(connection, statement)
        except Exception as error:
            self._unusable("write", error)
            return
        self.uncommitted.append(row)

    def _write(self, connection: Connection, statement: Any) -> None:
        """The row, in the step's transaction; the table is created with the
        first row (a run that applies nothing leaves the database as it
        was). On PostgreSQL a savepoint keeps a failure here from ending the
        step's transaction: the step matters more than its record. Every
        row gets one, not only the first: a later insert can fail too (a
        lock wait on the table, a merge's long list of revisions), and
        without a savepoint PostgreSQL would abort the run's transaction,
        whose COMMIT then rolls back the migration without a word.
        """
        dialect = connection.dialect.name
        if dialect == "postgresql":
            with connection.begin_nested():
                if not self._created:
                    self.table.create(connection, checkfirst=True)
                connection.execute(statement)
        else:
            # (MySQL commits DDL at once, which ends a savepoint; pysqlite's
            # SAVEPOINTs do not nest in its transactions.)
            if not self._created:
                self.table.create(connection, checkfirst=True)
            connection.execute(statement)
        self._created = True

    # -- after a failure ----------------------------------------------------

    def record_failure(
        self,
        connection: Connection,
        error: BaseException,
        revision: str | None,
        *,
        rolled_back: bool,
    ) -> None:
        """After the rollback: the rows it undid, as ``rolled back`` when
        ``rolled_back``, and the failed step's. Never raises: the run's own
        error is the one that matters.
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
        rows = [
            {**row, "outcome": "rolled back"}
            for row in (self.uncommitted if rolled_back else [])
        ]
        rows.append(
            self._row(
                revision=revision,
                from_revision=rows[-1]["revision"] if rows else None,
                direction=self.command if self.command != "stamp" else "stamp",
                outcome="failed",
                error=self._masked_error(error),
            )
        )
        self.uncommitted = []
        # The rollback may have taken the new table with it: the next
        # attempt's first row goes in a savepoint again.
        self._created = False
        try:
            if connection.in_transaction():
                connection.rollback()
            with connection.begin():
                self.table.create(connection, checkfirst=True)
                connection.execute(self.table.insert(), rows)
        except Exception as failure:
            log.warning(
                "Could not record the failure in %s (%s).",
                self.table.name,
                _first_line(failure, self.url),
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


def _first_line(error: BaseException, url: URL) -> str:
    """The error's first line, with the secrets of ``url`` and any URL's
    password masked.
    """
    return _USERINFO.sub(rf"\g<scheme>{MASK}@", scrub(first_line(error), url))


def _masked_command(argv: list[str], url: URL) -> str:
    """The command line, with each secret ``-x`` value and URL password
    masked.
    """
    words = []
    for word in argv:
        match = _SECRET_ARGUMENT.match(word)
        if match and is_secret_parameter(match.group("key")):
            word = f"{match.group('key')}={MASK}"
        words.append(_USERINFO.sub(rf"\g<scheme>{MASK}@", scrub(word, url)))
    return " ".join(words)


def _os_user() -> str:
    try:
        return getpass.getuser()[:128]
    except Exception:  # no user name in the environment or passwd
        return ""


@functools.cache
def _versions() -> str:
    from importlib import metadata  # (what a run that writes needs only)

    try:
        ours = metadata.version("alembic-flask-env")
    except metadata.PackageNotFoundError:
        ours = "unknown"
    return (
        f"alembic-flask-env {ours}, alembic {alembic.__version__},"
        f" sqlalchemy {sqlalchemy.__version__}"
    )
