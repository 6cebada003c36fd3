"""How each database takes, checks, keeps and gives back the deploy lock.

Both backends work on a connection of the lock's own, never on the
migration connection: a revision's ``autocommit_block()`` commits the
migration connection's transaction, and a transaction-level lock taken
there would end with it; and the migration transaction's snapshot (at
REPEATABLE READ or SERIALIZABLE) is taken only once the lock is held, so it
sees the ``alembic_version`` the previous run committed.

Waiting is a try-lock polled in short transactions: a waiter holds no
server connection between tries, which a transaction pooler (PgBouncer)
would otherwise run out of while the winner needs one for its migration.

The PostgreSQL lock lives in an open transaction for the whole run, and
that transaction must never hold a snapshot: ``CREATE INDEX CONCURRENTLY``
(and the other ``CONCURRENTLY`` statements) wait for every transaction with
an older snapshot to end, so a lock transaction that kept one would make the
run wait for itself forever. A statement sent with bound parameters goes
through the extended protocol, whose unnamed portal keeps its snapshot
(``backend_xmin``) until the next statement; so every statement here is
sent without parameters (psycopg and psycopg2 then use the simple protocol,
which drops the portal and its snapshot with the statement), and the
keep-alive sends one that needs no snapshot at all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Protocol

from sqlalchemy import text

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection


class LockBackend(Protocol):
    #: What the lock is, for the log and the errors.
    description: str

    def try_acquire(self, connection: Connection) -> bool:
        """Take the lock if it is free, without waiting. On success the
        lock is held (in an open transaction, where the lock needs one); on
        failure ``connection`` is left outside any transaction.
        """

    def is_held(self, connection: Connection) -> bool:
        """Whether ``connection`` still holds the lock, as the server sees
        it; raises when the connection is gone.
        """

    def keep_alive(self, connection: Connection) -> None:
        """Show the server the session is in use, so that no idle timeout
        ends it, without leaving a snapshot behind; raises when the
        connection is gone (or its transaction has failed).
        """

    def session(self, connection: Connection) -> int | None:
        """The server's id of the lock's session (a PostgreSQL backend pid),
        for telling the run's own waits apart; None where there is none.
        """

    def idle_timeouts(self, connection: Connection) -> list[float]:
        """The server's timeouts, in seconds, after which it would end an
        idle session holding the lock (none when unset).
        """

    def release(self, connection: Connection) -> None:
        """Give the lock back; raises when the connection is gone."""


class PostgreSQLLock:
    """``pg_try_advisory_xact_lock``: a transaction-level lock, held by the
    lock connection's open transaction. It ends with that transaction, so it
    holds behind a transaction pooler (which keeps a transaction on one
    server connection) and nothing outlives a lost connection.
    """

    def __init__(self, key: int) -> None:
        self.key = key
        self.description = f"PostgreSQL advisory lock {key}"
        # pg_locks shows a bigint advisory key as its two 32-bit halves.
        # Written into the SQL as numbers, never bound: see the module's
        # docstring (they are ints we computed, so nothing can be injected).
        unsigned = key & 0xFFFFFFFFFFFFFFFF
        self._is_held = text(
            "SELECT EXISTS (SELECT 1 FROM pg_locks"
            " WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
            f" AND granted AND objsubid = 1 AND classid::bigint = {unsigned >> 32:d}"
            f" AND objid::bigint = {unsigned & 0xFFFFFFFF:d})"
        )
        self._try = text(f"SELECT pg_try_advisory_xact_lock({int(key):d})")

    def try_acquire(self, connection: Connection) -> bool:
        acquired = connection.execute(self._try).scalar()
        if not acquired:
            connection.rollback()
        return bool(acquired)

    def is_held(self, connection: Connection) -> bool:
        return bool(connection.execute(self._is_held).scalar())

    def keep_alive(self, connection: Connection) -> None:
        # SHOW takes no snapshot, whichever protocol carries it.
        connection.exec_driver_sql("SHOW server_version").scalar()

    def session(self, connection: Connection) -> int | None:
        pid = connection.execute(text("SELECT pg_backend_pid()")).scalar()
        return int(pid) if pid is not None else None

    def idle_timeouts(self, connection: Connection) -> list[float]:
        rows = connection.execute(
            text(
                "SELECT setting FROM pg_settings WHERE name IN"
                " ('idle_in_transaction_session_timeout', 'idle_session_timeout')"
            )
        ).scalars()
        return [int(value) / 1000 for value in rows if int(value) > 0]

    def release(self, connection: Connection) -> None:
        connection.commit()


class MySQLLock:
    """``GET_LOCK``: held by the lock connection's session, outliving its
    transactions, and named per database (its names are server-wide).
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.description = f"MySQL lock {name!r}"

    def try_acquire(self, connection: Connection) -> bool:
        acquired = connection.execute(
            text("SELECT GET_LOCK(:name, 0)"), {"name": self.name}
        ).scalar()
        connection.commit()
        return acquired == 1

    def is_held(self, connection: Connection) -> bool:
        held = connection.execute(
            text("SELECT IS_USED_LOCK(:name) = CONNECTION_ID()"), {"name": self.name}
        ).scalar()
        connection.commit()
        return held == 1

    def keep_alive(self, connection: Connection) -> None:
        # A MySQL session holds no snapshot between transactions, and
        # asking doubles as the check.
        self.is_held(connection)

    def session(self, connection: Connection) -> int | None:
        return None

    def idle_timeouts(self, connection: Connection) -> list[float]:
        timeout = connection.execute(text("SELECT @@SESSION.wait_timeout")).scalar()
        connection.commit()
        return [float(timeout)] if timeout else []

    def release(self, connection: Connection) -> None:
        connection.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": self.name})
        connection.commit()
