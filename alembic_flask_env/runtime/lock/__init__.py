"""One migration run at a time per database: the deploy lock.

Deploys often start several containers at once, each running ``alembic
upgrade head``. Without a lock they race on ``alembic_version``: two read
the same old version and both apply the next revision (Flask-Migrate issue
311). The lock is taken before the migration's transaction begins, held on a
connection of its own until the run's work is committed, checked before
each revision goes on and before the run commits, and kept alive against
the server's idle timeouts; the others wait, then find nothing to do.

- PostgreSQL (directly or behind PgBouncer in transaction mode): a
  transaction-level advisory lock held by the lock connection's open
  transaction (:mod:`.backends`).
- MySQL and MariaDB: ``GET_LOCK`` on the lock connection, named per
  database.

SQLite gets no lock: it serialises writers itself but cannot stop two
processes from both seeing the old version, so run SQLite migrations from
one process.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from sqlalchemy import create_engine
from sqlalchemy import text

from ..connection import connected
from ..dialects import MYSQL_DIALECTS
from .backends import LockBackend
from .backends import MySQLLock
from .backends import PostgreSQLLock
from .holder import HeldLock
from .holder import LockLost
from .holder import wait_for_lock
from .keys import lock_id
from .keys import mysql_lock_name

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection
    from sqlalchemy.engine import Engine
    from sqlalchemy.pool import Pool

    from ..connection import ConnectTimeout
    from .settings import LockSettings

__all__ = [
    "HeldLock",
    "LockLost",
    "keep_lock_connections",
    "migration_lock",
    "stop_keeping_lock_connections",
]


class _KeptLock:
    """The lock engine kept for one pool (see :func:`keep_lock_connections`).
    (A plain class: a dataclass costs every run ~1 ms to create.)
    """

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.engine: Engine | None = None


_kept: _KeptLock | None = None


def keep_lock_connections(pool: Pool) -> None:
    """From now on, keep the lock's engine (and its pooled connection) for
    runs over ``pool`` from one run to the next, instead of connecting anew
    each time: a schema tenant's lock would otherwise be one more connection
    and login to the same server per tenant. Ends with
    :func:`stop_keeping_lock_connections`.
    """
    global _kept
    stop_keeping_lock_connections(close=True)
    _kept = _KeptLock(pool)


def stop_keeping_lock_connections(*, close: bool) -> None:
    """Dispose of the kept lock engine, if any (``close=False`` in a forked
    worker: its connection is the parent's), and keep no more.
    """
    global _kept
    if _kept is not None and _kept.engine is not None:
        _kept.engine.dispose(close=close)
    _kept = None


@contextmanager
def migration_lock(
    engine: Engine | None,
    settings: LockSettings | None,
    version_table: str,
    version_table_schema: str | None,
    *,
    connect_timeout: ConnectTimeout,
    whose: str,
) -> Iterator[HeldLock | None]:
    """Hold the migration lock of this version table for the body; enter it
    before Alembic's ``begin_transaction()``. Yields None (no lock) when
    ``settings`` is None or disabled, for a connection handed in
    (``engine`` None) and for databases other than PostgreSQL and
    MySQL/MariaDB.

    :raises MigrationLockTimeout: another run held it past the timeout.
    :raises DatabaseUnreachable: the lock's connection could not be made
        within ``connect_timeout``.
    """
    dialect = engine.dialect.name if engine is not None else ""
    if (
        engine is None
        or settings is None
        or not settings.enabled
        or dialect not in ("postgresql", *MYSQL_DIALECTS)
    ):
        yield None
        return
    with _lock_connection(engine, connect_timeout, whose) as connection:
        backend: LockBackend
        if dialect == "postgresql":
            backend = PostgreSQLLock(lock_id(version_table, version_table_schema))
        else:
            database = connection.execute(text("SELECT DATABASE()")).scalar()
            connection.commit()
            backend = MySQLLock(
                mysql_lock_name(
                    str(database or ""), version_table, version_table_schema
                )
            )
        waited = wait_for_lock(connection, backend, settings)
        held = HeldLock(connection, backend)
        held.waited = waited
        try:
            held.keep_alive()
            yield held
        finally:
            held.release()


@contextmanager
def _lock_connection(
    engine: Engine, connect_timeout: ConnectTimeout, whose: str
) -> Iterator[Connection]:
    """A connection of the lock's own, from a pool of its own with the
    app's connection arguments and pool events: the app's pool may be too
    small for two connections (``pool_size=1``), and the lock must not take
    a connection the migration waits for.
    """
    kept = _kept if _kept is not None and _kept.pool is engine.pool else None
    lock_engine = kept.engine if kept is not None else None
    if lock_engine is None:
        lock_engine = create_engine(engine.url, pool=engine.pool.recreate())
        if kept is not None:
            kept.engine = lock_engine
    try:
        with connected(
            lock_engine,
            whose,
            connect_timeout,
            made_by=engine,
            short_queries_only=True,
        ) as connection:
            # psycopg 3 prepares a statement it has run five times, which a
            # transaction pooler cannot route; the lock's are tiny anyway.
            if engine.dialect.name == "postgresql":
                # Held by an open transaction: never autocommit (the app's
                # engine may), and no snapshot to keep (pg_locks is live).
                connection.execution_options(isolation_level="READ COMMITTED")
            driver = connection.connection.driver_connection
            if driver is not None and hasattr(driver, "prepare_threshold"):
                driver.prepare_threshold = None
            yield connection
    finally:
        if kept is None:
            lock_engine.dispose()
