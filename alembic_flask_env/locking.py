"""One migration run at a time per database: a PostgreSQL advisory lock.

Deploys often start several containers at once, each running ``alembic
upgrade head``. Without a lock they race on ``alembic_version``: two read the
same old version and both apply the next revision (Flask-Migrate issue 311).
A session-level advisory lock, taken before Alembic reads the version and
released after it commits, makes the others wait and then find nothing to do.

Other databases get no lock: SQLite serialises writers itself but cannot
stop two processes from both seeing the old version, so run SQLite migrations
from one process.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Iterator
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.util import asbool

from .errors import InvalidSetting
from .errors import MigrationLockTimeout
from .settings import LOCK_KEY
from .settings import LOCK_TIMEOUT_KEY as TIMEOUT_KEY
from .settings import Setting
from .settings import find_setting

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.engine import Connection

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_SECONDS = 300.0
_POLL_SECONDS = 0.2


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
    try:
        timeout = float(timeout_setting.value)
    except ValueError:
        timeout = math.nan
    if not (math.isfinite(timeout) and timeout >= 0):
        raise InvalidSetting(
            f"{timeout_setting.describe()} is not a number of seconds (finite,"
            f" 0 or more). Set {TIMEOUT_KEY} to how long to wait for another"
            f" migration run, for example {TIMEOUT_KEY} = 600 (0: do not wait)."
        )
    return LockSettings(enabled, timeout, timeout_setting)


def lock_id(version_table: str, version_table_schema: str | None) -> int:
    """A stable signed 64-bit key, one per version table, so runs on
    different version tables (other apps, other binds) do not wait for each
    other.
    """
    name = f"alembic_flask_env:{version_table_schema or ''}.{version_table}"
    digest = hashlib.sha256(name.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def migration_lock(
    connection: Connection, settings: LockSettings | None, key: int
) -> Iterator[None]:
    """Hold the advisory lock ``key`` on ``connection`` (PostgreSQL only;
    no lock when ``settings`` is None or disabled).

    Each statement is committed at once: Alembic must find the connection
    outside a transaction to begin and commit its own, and a session-level
    lock outlives those commits.
    """
    if (
        settings is None
        or not settings.enabled
        or connection.dialect.name != "postgresql"
    ):
        yield
        return

    deadline = time.monotonic() + settings.timeout
    waiting = False
    while True:
        acquired = connection.execute(
            text("SELECT pg_try_advisory_lock(:key)"), {"key": key}
        ).scalar()
        connection.commit()
        if acquired:
            break
        if time.monotonic() >= deadline:
            raise MigrationLockTimeout(
                f"Another migration run held the migration lock for"
                f" {settings.timeout:g} s ({settings.timeout_setting.describe()})."
                f" Wait for it to finish and run again, raise {TIMEOUT_KEY}, or"
                f" set {LOCK_KEY} = false if nothing else migrates this database."
            )
        if not waiting:
            log.info("Waiting for another migration run to finish (lock %d)", key)
            waiting = True
        time.sleep(_POLL_SECONDS)
    try:
        yield
    finally:
        try:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
            connection.commit()
        except Exception as error:
            # Never hide the migration's own error (its traceback is the one
            # that matters); closing the connection releases the lock too.
            log.warning(
                "Could not release the migration lock (%s); closing the"
                " connection releases it.",
                _first_line(error),
            )
            connection.invalidate()


def _first_line(error: BaseException) -> str:
    text = str(getattr(error, "orig", None) or error).strip()
    return text.splitlines()[0] if text else type(error).__name__
