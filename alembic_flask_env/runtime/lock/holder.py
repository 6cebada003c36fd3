"""Holding the deploy lock for a run: waiting for it, keeping its
connection alive, and noticing when it is gone.

A lock connection sits idle while the migration works on another, and
servers end idle sessions (MySQL's ``wait_timeout``, PostgreSQL's
``idle_in_transaction_session_timeout``, a firewall's idle limit); a DBA
may end it too. Then the lock is gone, another run takes it, and both apply
the same revision. So a thread asks the server "do I still hold it?" more
often than the shortest idle timeout, and the run asks the same before
each revision goes on and before it commits. The thread's keep-alive takes
no snapshot (see :mod:`.backends`): it runs while the migration may be
waiting, in ``CREATE INDEX CONCURRENTLY``, for every older snapshot to go.
"""

from __future__ import annotations

import logging
import random
import select
import threading
import time
from typing import TYPE_CHECKING

from sqlalchemy.exc import DBAPIError

from ...errors import DatabaseUnreachable
from ...errors import MigrationLockTimeout
from ...errors import first_line
from ...settings import LOCK_KEY
from ...settings import LOCK_TIMEOUT_KEY
from ...url_masking import scrub

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from .backends import LockBackend
    from .settings import LockSettings

log = logging.getLogger(__name__)

#: The first pause between two tries of a waiter, and the longest: the
#: pause doubles (with jitter, so that waiters started together spread out).
FIRST_PAUSE_SECONDS = 0.05
LONGEST_PAUSE_SECONDS = 1.0
#: How often a held lock is checked when the server sets no idle timeout
#: (network equipment drops idle connections too), and at most a third of
#: the shortest idle timeout it does set.
DEFAULT_CHECK_SECONDS = 30.0
SHORTEST_CHECK_SECONDS = 0.1
#: Where a pooled lock connection's record keeps the server's idle timeouts.
_TIMEOUTS_INFO = "alembic_flask_env_idle_timeouts"
#: How long a quick check (:meth:`HeldLock.verify`) trusts the last answer.
QUICK_CHECK_SECONDS = 0.5


class LockLost(Exception):
    """The lock is no longer held; ``reason`` says what the server said."""

    def __init__(self, description: str, reason: str) -> None:
        super().__init__(f"{description}: {reason}")
        self.description = description
        self.reason = reason
        #: Where the run was when it was noticed, set by the check.
        self.during = "before the run could commit"


def wait_for_lock(
    connection: Connection, backend: LockBackend, settings: LockSettings
) -> float:
    """Try the lock until it is ours or the timeout has passed, pausing
    between tries outside any transaction; the seconds it took.

    :raises MigrationLockTimeout: another run held it past the timeout.
    :raises DatabaseUnreachable: the lock's connection failed meanwhile.
    """
    started = time.monotonic()
    deadline = started + settings.timeout
    pause = FIRST_PAUSE_SECONDS
    said = False
    while not _tried(connection, backend):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise timed_out(settings)
        if not said:
            log.info(
                "Waiting for another migration run to finish (%s)",
                backend.description,
            )
            said = True
        time.sleep(min(remaining, pause * random.uniform(0.5, 1.5)))
        pause = min(pause * 2, LONGEST_PAUSE_SECONDS)
    return time.monotonic() - started


def _tried(connection: Connection, backend: LockBackend) -> bool:
    """One try for the lock.

    :raises DatabaseUnreachable: the lock's connection failed (its session
        was ended, the server went away) before the lock was ours.
    """
    try:
        return backend.try_acquire(connection)
    except DBAPIError as error:
        raise DatabaseUnreachable(
            "The connection this run waited for the migration lock on"
            f" ({backend.description}) failed"
            f" ({scrub(first_line(error), connection.engine.url)}) before the"
            " lock was this run's, so nothing was migrated. Run again once the"
            " database answers; a DBA, a failover or an idle timeout of the"
            " server or of a pooler may have ended that session."
        ) from None


def timed_out(settings: LockSettings) -> MigrationLockTimeout:
    return MigrationLockTimeout(
        f"Another migration run held the migration lock for"
        f" {settings.timeout:g} s ({settings.timeout_setting.describe()})."
        f" Wait for it to finish and run again, raise {LOCK_TIMEOUT_KEY}, or"
        f" set {LOCK_KEY} = false if nothing else migrates this database."
    )


def _has_news(connection: Connection) -> bool:
    """Whether the server sent something unasked on the connection (the
    notice that ends its session, or the socket closed); True where the
    driver gives no socket to look at (then the server is asked).
    """
    fileno = getattr(connection.connection.dbapi_connection, "fileno", None)
    try:
        descriptor = fileno() if callable(fileno) else None
        if not isinstance(descriptor, int) or descriptor < 0:
            return True
        readable, _, _ = select.select([descriptor], [], [], 0)
    except Exception:  # closed, or not a socket select() takes
        return True
    return bool(readable)


class HeldLock:
    """The lock, held on ``connection`` (the lock's own) for one run."""

    def __init__(self, connection: Connection, backend: LockBackend) -> None:
        self.connection = connection
        self.backend = backend
        self.description = backend.description
        #: Why the lock was found gone, once it was.
        self.lost: str | None = None
        #: How long the run waited for it.
        self.waited = 0.0
        #: The server's id of the lock's session (PostgreSQL's backend pid).
        self.session = backend.session(connection)
        self._using_connection = threading.Lock()
        self._stopped = threading.Event()
        self._keeper: threading.Thread | None = None
        #: When the server last said the lock is held (taking it counts).
        self._asked = time.monotonic()

    def keep_alive(self) -> None:
        """Start checking the lock in the background, often enough that
        no idle timeout of the server ends its session.
        """
        # Asked once per pooled connection: a worker's tenants reuse it.
        info = self.connection.connection.info
        timeouts = info.get(_TIMEOUTS_INFO)
        if timeouts is None:
            timeouts = info[_TIMEOUTS_INFO] = self.backend.idle_timeouts(
                self.connection
            )
        interval = min([DEFAULT_CHECK_SECONDS, *(t / 3 for t in timeouts)])
        interval = max(interval, SHORTEST_CHECK_SECONDS)
        self._keeper = threading.Thread(
            target=self._check_every,
            args=(interval,),
            name="alembic_flask_env migration lock",
            daemon=True,
        )
        self._keeper.start()

    def _check_every(self, interval: float) -> None:
        while not self._stopped.wait(interval):
            with self._using_connection:
                if self.lost is not None:
                    return
                try:
                    self.backend.keep_alive(self.connection)
                except Exception as error:
                    self.lost = f"its connection failed ({first_line(error)})"
                    log.debug("The migration lock was lost: %s", self.lost)
                    return

    def verify(self, *, quick: bool = False) -> None:
        """Ask the server whether the lock is still ours. ``quick``: not
        when it was asked less than :data:`QUICK_CHECK_SECONDS` ago and
        the server has said nothing on the lock's connection since (a
        session the server ends, by a DBA, an idle timeout or a shutdown,
        is told so at once): a run of fast revisions in one transaction
        asks once per :data:`QUICK_CHECK_SECONDS` and before it commits,
        not once per revision.

        :raises LockLost: it is not, or its connection is gone.
        """
        with self._using_connection:
            if (
                quick
                and self.lost is None
                and time.monotonic() - self._asked < QUICK_CHECK_SECONDS
                and not _has_news(self.connection)
            ):
                return
            if self.lost is None:
                try:
                    held = self.backend.is_held(self.connection)
                except Exception as error:
                    self.lost = f"its connection failed ({first_line(error)})"
                else:
                    self._asked = time.monotonic()
                    if not held:
                        self.lost = "the server no longer shows it as held"
                if self.lost is not None:
                    log.debug("The migration lock was lost: %s", self.lost)
            if self.lost is not None:
                raise LockLost(self.description, self.lost)

    def release(self) -> None:
        """Stop the checks and give the lock back. A lock found lost has
        nothing to give back (the run's own error says so); a release that
        fails says so in one line: the server ends the lock with the
        session, which closing the connection does.
        """
        self._stopped.set()
        if self._keeper is not None:
            self._keeper.join()
        with self._using_connection:
            if self.lost is not None:
                return
            try:
                self.backend.release(self.connection)
            except Exception as error:
                log.warning(
                    "Could not release the migration lock (%s); closing its"
                    " connection releases it.",
                    first_line(error),
                )
                self.connection.invalidate()
