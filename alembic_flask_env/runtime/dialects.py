"""What the runtime needs to know about a database family by name."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.exc import DBAPIError

#: SQLAlchemy's names of the MySQL family.
MYSQL_DIALECTS = ("mysql", "mariadb")
#: The databases the safe-migration rules know.
CHECKED_DIALECTS = ("postgresql", *MYSQL_DIALECTS)

#: PostgreSQL's SQLSTATE for "lock_timeout expired" (LockNotAvailable).
LOCK_NOT_AVAILABLE = "55P03"


def sqlstate(error: DBAPIError) -> str | None:
    """The SQLSTATE of a PostgreSQL error, from psycopg 3 or psycopg2."""
    original = error.orig
    return getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)


def first_line(error: BaseException) -> str:
    """The driver's (or the error's) first line, for a one-line message."""
    text = str(getattr(error, "orig", None) or error).strip()
    return text.splitlines()[0] if text else type(error).__name__
