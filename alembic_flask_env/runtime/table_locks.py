"""Bound how long each statement of a migration waits for a table lock.

``ALTER TABLE`` on PostgreSQL needs an ACCESS EXCLUSIVE lock: it queues
behind any open transaction that touched the table, and every later query of
the app queues behind it, so one slow report turns a 10 ms migration into
minutes of downtime. With ``table_lock_timeout`` set, a statement that waits
longer fails instead (``lock_timeout`` on PostgreSQL, ``lock_wait_timeout``
on MySQL/MariaDB), the revision is rolled back (where the database can), and
``table_lock_retries`` runs it again after a pause. Unset, statements wait as
the database's own settings say.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterator
from collections.abc import Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING
from typing import NamedTuple

from sqlalchemy import event
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from ..settings import TABLE_LOCK_RETRIES_KEY
from ..settings import TABLE_LOCK_TIMEOUT_KEY
from ..settings import Setting
from ..settings import count
from ..settings import find_setting
from ..settings import seconds
from .dialects import LOCK_NOT_AVAILABLE
from .dialects import MYSQL_DIALECTS
from .dialects import sqlstate

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.engine import Connection

log = logging.getLogger(__name__)

#: MySQL's error number for "Lock wait timeout exceeded".
MYSQL_LOCK_WAIT_TIMEOUT = 1205

#: The table a statement works on, for the timeout message (compiled by
#: ``re`` when a message needs it, not by every run).
_TABLE_OF_STATEMENT = (
    r"\b(?:ALTER\s+TABLE|DROP\s+TABLE|TRUNCATE(?:\s+TABLE)?|LOCK\s+TABLE|"
    r"INSERT\s+INTO|UPDATE|DELETE\s+FROM|ON|REFERENCES|RENAME\s+TO)"
    r"\s+(?:ONLY\s+|IF\s+EXISTS\s+)?([`\"\w.]+)"
)


class TableLockSettings(NamedTuple):
    #: Seconds a statement may wait for a table lock; None: as long as the
    #: database lets it.
    timeout: float | None
    retries: int
    #: Where the timeout came from, for the error.
    timeout_setting: Setting | None = None


def read_table_lock_settings(
    config: Config, x_arguments: Mapping[str, str]
) -> TableLockSettings:
    """``table_lock_timeout`` (seconds, unset by default) and
    ``table_lock_retries`` (default 0), from ``-x``, the ini or pyproject.toml.

    :raises InvalidSetting: not a number of seconds, or not a whole number.
    """
    timeout_setting = find_setting(config, x_arguments, TABLE_LOCK_TIMEOUT_KEY)
    retries_setting = find_setting(config, x_arguments, TABLE_LOCK_RETRIES_KEY)
    timeout = (
        None
        if timeout_setting is None
        else seconds(timeout_setting, "let a statement wait for a table lock")
    )
    retries = (
        0
        if retries_setting is None
        else count(
            retries_setting, "how often to run a revision again after a lock wait"
        )
    )
    return TableLockSettings(timeout, retries, timeout_setting)


@contextmanager
def bounded_lock_waits(
    connection: Connection, settings: TableLockSettings, *, one_transaction: bool
) -> Iterator[None]:
    """Apply ``table_lock_timeout`` to the migration connection for the
    body; enter it inside Alembic's ``begin_transaction()``. In one
    transaction the setting is local to it (``SET LOCAL``, which a
    transaction pooler keeps); with a transaction per revision it is set on
    the session and put back afterwards.
    """
    if settings.timeout is None:
        yield
        return
    dialect = connection.dialect.name
    if dialect == "postgresql":
        milliseconds = max(1, round(settings.timeout * 1000))
        if one_transaction:
            statement = f"SET LOCAL lock_timeout = {milliseconds}"
            connection.execute(text(statement))
            with _again_in_each_transaction(connection, statement):
                yield
            return
        _set(connection, f"SET lock_timeout = {milliseconds}", one_transaction)
        try:
            yield
        finally:
            _set(connection, "RESET lock_timeout", one_transaction)
    elif dialect in MYSQL_DIALECTS:
        previous = connection.execute(
            text("SELECT @@SESSION.lock_wait_timeout")
        ).scalar()
        # Whole seconds, at least 1.
        seconds_ = max(1, math.ceil(settings.timeout))
        _set(connection, f"SET SESSION lock_wait_timeout = {seconds_}", one_transaction)
        try:
            yield
        finally:
            _set(
                connection,
                f"SET SESSION lock_wait_timeout = {previous}",
                one_transaction,
            )
    else:
        log.info(
            "%s applies to PostgreSQL and MySQL/MariaDB; %s waits for locks as"
            " it always does.",
            TABLE_LOCK_TIMEOUT_KEY,
            dialect,
        )
        yield


@contextmanager
def _again_in_each_transaction(
    connection: Connection, statement: str
) -> Iterator[None]:
    """Run ``statement`` at the start of every transaction the connection
    begins during the body: an ``autocommit_block()`` commits the run's
    transaction, and a ``SET LOCAL`` with it, and Alembic begins another
    after the block. It goes to the driver's connection, which begins its
    transaction with it (SQLAlchemy's own is still being begun).
    """

    def begin(begun: Connection) -> None:
        if begun.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
            # Inside the block itself: no transaction for SET LOCAL to live in.
            return
        driver_connection = begun.connection.dbapi_connection
        assert driver_connection is not None
        cursor = driver_connection.cursor()
        try:
            cursor.execute(statement)
        finally:
            cursor.close()

    event.listen(connection, "begin", begin)
    try:
        yield
    finally:
        event.remove(connection, "begin", begin)


def _set(connection: Connection, statement: str, one_transaction: bool) -> None:
    connection.execute(text(statement))
    if not one_transaction:
        # Leave the connection outside a transaction, as Alembic expects
        # before it begins one per revision; session settings persist.
        connection.commit()


def is_lock_wait_timeout(error: BaseException) -> bool:
    """Whether a statement gave up waiting for a table lock."""
    if not isinstance(error, DBAPIError):
        return False
    if sqlstate(error) == LOCK_NOT_AVAILABLE:
        return True
    arguments: tuple[object, ...] = getattr(error.orig, "args", ())
    return arguments[:1] == (MYSQL_LOCK_WAIT_TIMEOUT,)


def table_of(error: DBAPIError) -> str:
    """The table the statement that timed out works on, as far as its SQL
    says; "a table" when it does not.
    """
    match = re.search(_TABLE_OF_STATEMENT, error.statement or "", re.IGNORECASE)
    if match is None:
        return "a table"
    return repr(match.group(1).replace('"', "").replace("`", ""))
