"""A run that waits for its own lock session: found, ended, and said.

The deploy lock's session sits in an open transaction for the whole run
while the migration works on another connection. Nothing of ours there
should ever make the migration wait (:mod:`.backends` keeps that
transaction free of snapshots), but should a statement of the run wait for
that session all the same (a revision that asks for the deploy lock's own
advisory key, a ``CONCURRENTLY`` statement meeting a snapshot some driver
kept open), neither can finish before the other: the run would hang with
the deploy lock held, and every later deploy would wait for it.

So once a statement of the run has been running for half the bound
(``table_lock_timeout``, or :data:`DEFAULT_BOUND_SECONDS`), a watcher asks
the server whether the lock's session is what it waits for. It asks on a
connection of its own, in a transaction that ends at once (a question asked
in the lock's transaction would hold a snapshot there, the very thing a
``CONCURRENTLY`` statement waits for). If so, it cancels that statement and
the run fails saying why, instead of hanging.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING
from typing import Any
from typing import NamedTuple

from sqlalchemy import event
from sqlalchemy import text

from ...errors import RunWaitedForItself
from ...errors import first_line
from ...settings import TABLE_LOCK_TIMEOUT_KEY

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection
    from sqlalchemy.engine import Engine

    from .holder import HeldLock

log = logging.getLogger(__name__)

#: How long a statement of the run may run before the watcher asks what
#: it waits for, when ``table_lock_timeout`` is not set.
DEFAULT_BOUND_SECONDS = 60.0
#: The longest pause between two looks at the statement in flight.
LONGEST_TICK_SECONDS = 1.0
#: How much of a statement's text tells it apart in ``pg_stat_activity``
#: (compared without case and with white space folded).
_COMPARED_CHARACTERS = 60


class SelfWait(NamedTuple):
    """A statement of the run that was cancelled for waiting on the lock's
    own session.
    """

    statement: str
    waited: float
    lock_session: int
    statement_session: int


class SelfWaitWatch:
    """Watches the statements of one migration connection while ``held``
    is the run's lock (PostgreSQL only: elsewhere the lock holds no
    transaction anything could wait for).
    """

    def __init__(self, held: HeldLock, bound: float | None) -> None:
        self.held = held
        self.bound_source = (
            f"{TABLE_LOCK_TIMEOUT_KEY} = {bound:g} s"
            if bound is not None
            else f"{DEFAULT_BOUND_SECONDS:g} s (the bound while"
            f" {TABLE_LOCK_TIMEOUT_KEY} is unset)"
        )
        #: When to look: at half the bound, so that the answer comes before
        #: a lock_timeout of the same length ends the statement with a
        #: message that could not say what it waited for.
        self.look_after = (DEFAULT_BOUND_SECONDS if bound is None else bound) / 2
        #: What was cancelled, once something was.
        self.found: SelfWait | None = None
        self._in_flight: tuple[str, float] | None = None
        self._stopped = threading.Event()

    @contextmanager
    def watching(self, connection: Connection) -> Iterator[None]:
        """Watch ``connection``'s statements for the body."""
        if self.held.session is None:
            yield
            return
        listeners = {
            "before_cursor_execute": self._started,
            # (A failed statement is not "ended": the next one replaces
            # it, and a watcher finding no such wait on the server does
            # nothing.)
            "after_cursor_execute": self._ended,
        }
        for name, listener in listeners.items():
            event.listen(connection, name, listener)
        watcher = threading.Thread(
            target=self._watch,
            args=(self.held.connection.engine,),
            name="alembic_flask_env self-wait watch",
            daemon=True,
        )
        watcher.start()
        try:
            yield
        finally:
            self._stopped.set()
            watcher.join()
            for name, listener in listeners.items():
                event.remove(connection, name, listener)

    def _started(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self._in_flight = (statement, time.monotonic())

    def _ended(self, *args: Any) -> None:
        self._in_flight = None

    def _watch(self, engine: Engine) -> None:
        tick = min(LONGEST_TICK_SECONDS, max(self.look_after / 4, 0.05))
        connection: Connection | None = None
        try:
            while not self._stopped.wait(tick):
                in_flight = self._in_flight
                if in_flight is None or self.found is not None:
                    continue
                statement, started = in_flight
                waited = time.monotonic() - started
                if waited < self.look_after:
                    continue
                if connection is None:
                    connection = engine.connect()
                self._look(connection, statement, waited)
        except Exception as error:
            # The watch is a safety net: its own failure must not end a
            # run that may be fine; say so once and stop watching.
            log.warning(
                "Stopped watching the run's statements for waits on its own"
                " migration lock session: %s",
                first_line(error),
            )
        finally:
            if connection is not None:
                connection.close()

    def _look(self, connection: Connection, statement: str, waited: float) -> None:
        """Cancel ``statement`` where the server shows it waiting for the
        lock's session, each question in a transaction that ends at once.
        """
        assert self.held.session is not None
        lock_session = int(self.held.session)
        try:
            rows = connection.execute(
                text(
                    "SELECT pid, query FROM pg_stat_activity"
                    f" WHERE {lock_session:d} = ANY(pg_blocking_pids(pid))"
                )
            ).all()
            ours = _folded(statement)
            for pid, query in rows:
                if _folded(query or "") == ours:
                    connection.execute(text(f"SELECT pg_cancel_backend({int(pid):d})"))
                    self.found = SelfWait(statement, waited, lock_session, int(pid))
                    log.debug("Cancelled %r: it waited for the lock's session", ours)
                    return
        finally:
            connection.rollback()

    def explain(self, revision: str) -> RunWaitedForItself | None:
        """The error for the run, once a statement was cancelled."""
        found = self.found
        if found is None:
            return None
        return RunWaitedForItself(
            f"{revision.capitalize()} waited {found.waited:.0f} s for this run's"
            f" own migration lock session (server pid {found.lock_session},"
            f" {self.held.description}) in: {_folded(found.statement)}. That"
            " session holds the deploy lock until the run ends, so neither could"
            f" ever finish: the statement (server pid {found.statement_session})"
            f" was cancelled within {self.bound_source}, and the run stopped"
            " there (what it had not committed was rolled back). A revision"
            " must not take the deploy lock's advisory key itself; if this one"
            " does not, please report it with the revision."
        )


def _folded(statement: str) -> str:
    return " ".join(statement.split())[:_COMPARED_CHARACTERS].lower()
