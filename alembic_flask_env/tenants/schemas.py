"""Keeping a schema tenant's statements in its schema, on a direct
connection and behind a transaction pooler alike.

A tenant's unqualified names (the raw SQL of ``op.execute()``) resolve
through ``search_path``. A session-level ``SET search_path`` holds for the
session, but behind PgBouncer in transaction mode a session is not a server
connection: each transaction may run on another one, whose ``search_path``
another client (another tenant's worker, or the app) set. So there every
transaction begins with ``SET LOCAL search_path`` to the tenant's schema,
which lives and dies with that transaction on whichever server connection
runs it; and ``schema_translate_map`` puts every table of ``op.*`` in the
schema by name. On a direct connection the session's ``search_path``, set
when the tenant's connection is checked out, holds for all its
transactions, and none needs a ``SET LOCAL`` of its own.

A statement run outside any transaction (in an ``autocommit_block()``) has
no transaction for ``SET LOCAL``. On a direct connection the session's
``search_path`` is set once, when the connection is made, and holds; behind
a pooler nothing holds, so such a statement is refused unless the schema
translation names its tables (``op.create_index()`` and the other ``op.*``
do, raw SQL does not), rather than let it write into whatever schema the
server connection it lands on points at.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any

from sqlalchemy.schema import DDL
from sqlalchemy.sql.elements import TextClause

from ..errors import ConnectionNotUsable
from ..errors import DatabaseUnreachable
from ..settings import CONNECT_TIMEOUT_KEY
from ..settings import TENANT_JOBS_KEY

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection
    from sqlalchemy.engine.interfaces import DBAPIConnection

log = logging.getLogger(__name__)

#: The execution option that tells a schema tenant's connections their schema.
SCHEMA_OPTION = "alembic_flask_env_tenant_schema"
#: The execution option that bounds how long a transaction's first
#: statement may wait for a server connection (a :class:`ServerWait`).
SERVER_WAIT_OPTION = "alembic_flask_env_server_wait"


@dataclass(frozen=True)
class ServerWait:
    """How long the first statement of a tenant's transaction may wait,
    and what to say when it waited longer.
    """

    seconds: float
    #: Where the bound came from (``migration_connect_timeout``).
    described: str
    #: The run's ``tenant_jobs``.
    jobs: int


#: Where a pooled connection's record keeps whether a pooler stands between
#: it and the server (found once per connection).
_POOLER_INFO = "alembic_flask_env_pooler"
_SHOWN_STATEMENT = 80


def point_at_schema(connection: Connection, schema: str, *, create: bool) -> None:
    """Create ``schema`` unless it exists (when ``create``), and, on a
    direct connection to the server, set the session's ``search_path`` to
    it; in autocommit (or committed), so that the migration's transaction
    starts clean and a rollback does not undo either.
    """
    driver_connection = connection.connection.dbapi_connection
    assert driver_connection is not None
    with _bounded(connection):
        _point(connection, driver_connection, schema, create)


def _point(
    connection: Connection,
    driver_connection: DBAPIConnection,
    schema: str,
    create: bool,
) -> None:
    # In autocommit, for the statements here: no COMMIT round trip after
    # them (only SET search_path itself must outlive a rollback).
    switched = _autocommit_on(driver_connection)
    cursor = driver_connection.cursor()
    try:
        info = connection.connection.info
        if _POOLER_INFO not in info:
            info[_POOLER_INFO] = behind_a_pooler(driver_connection, cursor)
        # One round trip: whether the schema exists and, on a direct
        # connection, the session's search_path (behind a pooler it would
        # stay on the server connection for its next client: never there).
        # set_config() with the quoted name is SET search_path TO "schema".
        direct = not info[_POOLER_INFO]
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = %s)"
            + (", set_config('search_path', %s, false)" if direct else ""),
            (schema, _quoted(schema)) if direct else (schema,),
        )
        row = cursor.fetchone()
        if create and row is not None and not row[0]:
            # (IF NOT EXISTS: check and autogenerate take no lock, and may
            # race an upgrade here.)
            cursor.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            log.info("Created schema %r for its tenant.", schema)
    finally:
        cursor.close()
        if switched:
            driver_connection.autocommit = False
    if not switched:
        driver_connection.commit()


def _autocommit_on(driver_connection: DBAPIConnection) -> bool:
    """Switch the driver's connection to autocommit (psycopg 3 and
    psycopg2 only set a flag: no round trip); whether it was switched.
    Not when it already is, nor in a transaction (the driver refuses).
    """
    if getattr(driver_connection, "autocommit", None) is not False:
        return False
    try:
        driver_connection.autocommit = True
    except Exception:  # the driver's "not now: in a transaction"
        return False
    return True


def _quoted(schema: str) -> str:
    return '"' + schema.replace('"', '""') + '"'


def behind_a_pooler(driver_connection: DBAPIConnection, cursor: Any) -> bool:
    """Whether something (PgBouncer, a cloud proxy) stands between this
    connection and PostgreSQL: the server process the connection was told
    of when it logged in is not the one that runs its statements. A pooler
    hands out keys of its own. A driver that does not say which process it
    was told of is taken to be behind one, the safe side.
    """
    info = getattr(driver_connection, "info", None)
    told: object = getattr(info, "backend_pid", None)  # psycopg 3
    get_backend_pid = getattr(driver_connection, "get_backend_pid", None)
    if told is None and callable(get_backend_pid):  # psycopg2
        told = get_backend_pid()
    if not isinstance(told, int):
        return True
    cursor.execute("SELECT pg_backend_pid()")
    row = cursor.fetchone()
    return row is None or row[0] != told


def in_the_tenants_schema(connection: Connection) -> None:
    """At the start of each transaction of a schema tenant's connection:
    ``SET LOCAL search_path`` to its schema, sent on the driver's connection
    (which begins its transaction with it; SQLAlchemy's own is still being
    begun). Outside a transaction (an autocommit block) there is none to
    set it in: see :func:`refuse_unplaced_statements`.
    """
    schema = connection.get_execution_options().get(SCHEMA_OPTION)
    if schema is None or _autocommit(connection):
        return
    if connection.connection.info.get(_POOLER_INFO) is False:
        # Direct: the session's search_path, set when the tenant's
        # connection was checked out (:func:`point_at_schema`), holds for
        # every transaction; one round trip per transaction saved.
        return
    driver_connection = connection.connection.dbapi_connection
    assert driver_connection is not None
    with _bounded(connection):
        cursor = driver_connection.cursor()
        try:
            cursor.execute(f'SET LOCAL search_path TO "{schema}"')
        finally:
            cursor.close()


@contextmanager
def _bounded(connection: Connection) -> Iterator[None]:
    """Bound the body, a transaction's first statement, by the run's
    :class:`ServerWait`. Behind a transaction pooler that statement waits
    for a server connection, and with a pool smaller than two per worker
    (each holds one for the migration lock while it waits for one for the
    migration) every worker can wait for ever. When the time is up, the
    connection's socket is shut down, which ends the wait at once, and the
    connection is thrown away.

    :raises DatabaseUnreachable: the time was up.
    """
    wait: ServerWait | None = connection.get_execution_options().get(SERVER_WAIT_OPTION)
    descriptor = _socket_of(connection.connection.dbapi_connection)
    if wait is None or descriptor is None:
        yield
        return
    watchdog = _Watchdog(descriptor, wait.seconds)
    try:
        with watchdog:
            yield
    except Exception:
        if not watchdog.fired:
            raise
    if watchdog.fired:
        connection.invalidate()
        raise DatabaseUnreachable(_no_server(wait)) from None


def _socket_of(driver_connection: object) -> int | None:
    """The connection's socket (psycopg 3 and psycopg2 say); None when the
    driver does not say, or the connection has none (closed).
    """
    fileno = getattr(driver_connection, "fileno", None)
    try:
        descriptor = fileno() if callable(fileno) else None
    except Exception:  # the driver's "the connection is closed"
        return None
    return descriptor if isinstance(descriptor, int) and descriptor >= 0 else None


def _no_server(wait: ServerWait) -> str:
    return (
        f"No server connection within {wait.seconds:g} s ({wait.described}). Behind"
        " a connection pooler (PgBouncer in transaction mode) each of the"
        f" {TENANT_JOBS_KEY} = {wait.jobs} workers needs two server connections at"
        " once, the migration lock's and the migration's, so the pooler's pool"
        f" for this database and user must hold at least {2 * wait.jobs}"
        " (PgBouncer's default_pool_size, counting the app's own connections):"
        f" lower {TENANT_JOBS_KEY} or raise the pool size. If the server is only"
        f" slow, raise {CONNECT_TIMEOUT_KEY}."
    )


class _Watchdog:
    """Shuts the socket ``fileno`` down unless the body ends within
    ``seconds``; the driver's wait then fails at once.
    """

    def __init__(self, fileno: int, seconds: float) -> None:
        self._fileno = fileno
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True
        self._ending = threading.Lock()
        self._done = False
        self.fired = False

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *_: object) -> None:
        with self._ending:
            self._done = True
        self._timer.cancel()

    def _fire(self) -> None:
        with self._ending:
            if self._done:
                return
            self.fired = True
            # A duplicate of the descriptor: shutting it down ends the
            # connection for both; closing it closes the duplicate only.
            with (
                contextlib.suppress(OSError),
                socket.socket(fileno=os.dup(self._fileno)) as duplicate,
            ):
                duplicate.shutdown(socket.SHUT_RDWR)


def refuse_unplaced_statements(
    connection: Connection,
    cursor: object,
    statement: str,
    parameters: object,
    context: Any,
    executemany: bool,
) -> None:
    """Before a statement of a schema tenant runs outside any transaction
    behind a pooler: refuse it unless the schema translation names its
    tables (raw SQL, ``DDL()`` and driver SQL it does not).

    :raises ConnectionNotUsable: such a statement; nothing of it ran.
    """
    schema = connection.get_execution_options().get(SCHEMA_OPTION)
    if schema is None or not _autocommit(connection):
        return
    if not connection.connection.info.get(_POOLER_INFO, True):
        return  # direct: the session's search_path holds
    element = getattr(getattr(context, "compiled", None), "statement", None)
    if element is not None and not isinstance(element, (TextClause, DDL)):
        return
    shown = " ".join(statement.split())
    if len(shown) > _SHOWN_STATEMENT:
        shown = shown[: _SHOWN_STATEMENT - 3] + "..."
    raise ConnectionNotUsable(
        f"The statement {shown!r} runs in an autocommit_block(), outside any"
        " transaction, where a connection pooler (PgBouncer in transaction"
        " mode) may run it on a server connection whose search_path is not"
        f" schema {schema!r}: its unqualified tables could be another"
        " tenant's. Write it with op.* (op.create_index(), op.add_column(),"
        " ...: their tables are put in the tenant's schema), move it out of"
        " the autocommit block, or migrate the tenants over a direct"
        " connection to PostgreSQL; it did not run."
    )


def _autocommit(connection: Connection) -> bool:
    driver_connection = connection.connection.dbapi_connection
    autocommit = getattr(driver_connection, "autocommit", None)
    if isinstance(autocommit, bool):
        return autocommit
    level = connection.get_execution_options().get("isolation_level")
    return bool(level == "AUTOCOMMIT")
