"""One migration run at a time per database.

Deploys often start several containers at once, each running ``alembic
upgrade head``. Without a lock they race on ``alembic_version``: two read the
same old version and both apply the next revision (Flask-Migrate issue 311).
The lock is taken before Alembic reads the version and held until the run's
work is committed, so the others wait and then find nothing to do.

- PostgreSQL, one transaction per run (the default): a transaction-level
  advisory lock (``pg_advisory_xact_lock``) in the run's own transaction. It
  ends with the transaction, so nothing is left to release, and it holds
  behind PgBouncer in transaction pooling mode, where a session-level lock
  would be taken on one server connection and released on another.
- PostgreSQL with ``transaction_per_migration``: the same lock in a
  transaction of its own, on a second connection held open for the run (a
  pooler keeps that transaction on one server connection).
- MySQL and MariaDB: ``GET_LOCK`` on a second connection, released with
  ``RELEASE_LOCK`` (or when that connection closes).

SQLite gets no lock: it serialises writers itself but cannot stop two
processes from both seeing the old version, so run SQLite migrations from
one process.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.util import asbool

from ..errors import InvalidSetting
from ..errors import MigrationLockTimeout
from ..settings import LOCK_KEY
from ..settings import LOCK_TIMEOUT_KEY as TIMEOUT_KEY
from ..settings import Setting
from ..settings import find_setting
from ..settings import seconds

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.engine import Connection
    from sqlalchemy.engine import Engine
    from sqlalchemy.engine import Transaction

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_SECONDS = 300.0


@dataclass(frozen=True)
class LockSettings:
    enabled: bool
    timeout: float
    #: Where the timeout came from, for the timeout error.
    timeout_setting: Setting


def read_lock_settings(config: Config, x_arguments: Mapping[str, str]) -> LockSettings:
    """``migration_lock`` (default true) and ``migration_lock_timeout``
    (seconds, default 300), from ``-x``, the ini or pyproject.toml.

    :raises InvalidSetting: a value is not a boolean, or not a finite number
        of seconds that is 0 or more (0: do not wait).
    """
    enabled = True
    lock = find_setting(config, x_arguments, LOCK_KEY)
    if lock is not None:
        try:
            enabled = asbool(lock.value)
        except ValueError:
            raise InvalidSetting(
                f"{lock.describe()} is not a boolean. Set {LOCK_KEY} = true (the"
                f" default: one migration run at a time) or {LOCK_KEY} = false."
            ) from None

    timeout_setting = find_setting(config, x_arguments, TIMEOUT_KEY) or Setting(
        TIMEOUT_KEY, str(DEFAULT_TIMEOUT_SECONDS), "the default"
    )
    timeout = seconds(timeout_setting, "wait for another migration run")
    return LockSettings(enabled, timeout, timeout_setting)


def lock_id(version_table: str, version_table_schema: str | None) -> int:
    """A stable signed 64-bit key, one per version table, so runs on
    different version tables (other apps, other binds) do not wait for each
    other.
    """
    name = f"alembic_flask_env:{version_table_schema or ''}.{version_table}"
    digest = hashlib.sha256(name.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def lock_name(key: int) -> str:
    """The name of the lock for MySQL's ``GET_LOCK`` (64 characters at most)."""
    return f"alembic_flask_env:{key & 0xFFFFFFFFFFFFFFFF:016x}"


@contextmanager
def migration_lock(
    engine: Engine | None,
    connection: Connection,
    settings: LockSettings | None,
    key: int,
    *,
    one_transaction: bool,
) -> Iterator[None]:
    """Hold the migration lock ``key`` for the body; enter it inside
    Alembic's ``begin_transaction()``. No lock when ``settings`` is None or
    disabled, or for databases other than PostgreSQL and MySQL/MariaDB.

    :param engine: where a second connection comes from, when the lock
        needs one.
    :param one_transaction: the run is one transaction on ``connection``.
    :raises MigrationLockTimeout: another run held it past the timeout.
    """
    dialect = connection.dialect.name
    if settings is None or not settings.enabled or engine is None:
        yield
    elif dialect == "postgresql" and one_transaction:
        _wait_for_postgresql_lock(connection, key, settings)
        yield
    elif dialect == "postgresql":
        with engine.connect() as holder, _ended_quietly(holder.begin()):
            _wait_for_postgresql_lock(holder, key, settings)
            yield
    elif dialect in MYSQL_DIALECTS:
        with engine.connect() as holder:
            _wait_for_mysql_lock(holder, key, settings)
            try:
                yield
            finally:
                _release_mysql_lock(holder, key)
    else:
        yield


#: SQLAlchemy's names of the MySQL family.
MYSQL_DIALECTS = ("mysql", "mariadb")

#: PostgreSQL's SQLSTATE for "lock_timeout expired" (LockNotAvailable).
LOCK_NOT_AVAILABLE = "55P03"


def _wait_for_postgresql_lock(
    connection: Connection, key: int, settings: LockSettings
) -> None:
    """Take the transaction-level lock in ``connection``'s transaction,
    waiting at most the timeout. One blocking statement under ``SET LOCAL
    lock_timeout``, not a polling loop: psycopg would turn a repeated
    statement into a prepared one, which a transaction pooler breaks.
    """
    arguments = {"key": key}
    if connection.execute(
        text("SELECT pg_try_advisory_xact_lock(:key)"), arguments
    ).scalar():
        return
    if settings.timeout == 0:  # lock_timeout = 0 would mean "wait forever"
        raise _timed_out(settings)
    log.info("Waiting for another migration run to finish (lock %d)", key)
    connection.execute(text(f"SET LOCAL lock_timeout = {_milliseconds(settings)}"))
    try:
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), arguments)
    except DBAPIError as error:
        if sqlstate(error) == LOCK_NOT_AVAILABLE:
            raise _timed_out(settings) from None
        raise
    connection.execute(text("SET LOCAL lock_timeout TO DEFAULT"))


def _wait_for_mysql_lock(
    connection: Connection, key: int, settings: LockSettings
) -> None:
    """``GET_LOCK`` is per session and outlives transactions; the commit
    only ends the transaction SQLAlchemy began for the statement.
    """
    name = lock_name(key)
    query = text("SELECT GET_LOCK(:name, :timeout)")
    acquired = connection.execute(query, {"name": name, "timeout": 0}).scalar()
    if acquired != 1 and settings.timeout > 0:
        log.info("Waiting for another migration run to finish (lock %s)", name)
        acquired = connection.execute(
            query, {"name": name, "timeout": settings.timeout}
        ).scalar()
    connection.commit()
    if acquired != 1:
        raise _timed_out(settings)


def _release_mysql_lock(connection: Connection, key: int) -> None:
    try:
        connection.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": lock_name(key)})
        connection.commit()
    except Exception as error:
        # Never hide the migration's own error; the server releases the
        # lock with the session.
        log.warning(
            "Could not release the migration lock (%s); closing the"
            " connection releases it.",
            _first_line(error),
        )
        connection.invalidate()


@contextmanager
def _ended_quietly(transaction: Transaction) -> Iterator[None]:
    """End the lock's own transaction (which releases the lock), and when
    the connection is gone say so in one line: the run's own error, if any,
    is the one that matters, and the server ends the session's locks.
    """
    try:
        yield
    finally:
        try:
            transaction.commit()
        except Exception as error:
            log.warning(
                "Could not end the migration lock's transaction (%s); the"
                " server releases the lock with the session.",
                _first_line(error),
            )


def sqlstate(error: DBAPIError) -> str | None:
    """The SQLSTATE of a PostgreSQL error, from psycopg 3 or psycopg2."""
    original = error.orig
    return getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)


def _milliseconds(settings: LockSettings) -> int:
    return max(1, round(settings.timeout * 1000))


def _timed_out(settings: LockSettings) -> MigrationLockTimeout:
    return MigrationLockTimeout(
        f"Another migration run held the migration lock for"
        f" {settings.timeout:g} s ({settings.timeout_setting.describe()})."
        f" Wait for it to finish and run again, raise {TIMEOUT_KEY}, or"
        f" set {LOCK_KEY} = false if nothing else migrates this database."
    )


def _first_line(error: BaseException) -> str:
    text = str(getattr(error, "orig", None) or error).strip()
    return text.splitlines()[0] if text else type(error).__name__
