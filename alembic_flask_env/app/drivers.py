"""A database driver (DBAPI) that the Python running alembic does not have.

SQLAlchemy imports the driver a URL names when the engine is created, which
Flask-SQLAlchemy and Flask-SQLAlchemy-Lite do inside ``init_app()``, so in
the user's factory; all it raises is ``No module named 'psycopg2'``, and the
user sees a long traceback through their own code for what is a missing
``pip install``. This module recognises that error and says which URL asked
for which driver, and which package provides it.
"""

from __future__ import annotations

import sys
import traceback
from types import FrameType
from typing import NamedTuple

from sqlalchemy.engine import URL

from ..url_masking import safe_url

#: The pip packages that provide each SQLAlchemy driver, by the ``driver``
#: name of its dialect (the part after the '+'); the first is the one to
#: suggest, the others are alternatives.
PACKAGES: dict[str, tuple[str, ...]] = {
    "psycopg2": ("psycopg2-binary", "psycopg2"),
    "psycopg": ("psycopg[binary]", "psycopg"),
    "psycopg_async": ("psycopg[binary]", "psycopg"),
    "asyncpg": ("asyncpg",),
    "pg8000": ("pg8000",),
    "psycopg2cffi": ("psycopg2cffi",),
    "mysqldb": ("mysqlclient",),
    "pymysql": ("pymysql",),
    "mysqlconnector": ("mysql-connector-python",),
    "mariadbconnector": ("mariadb",),
    "aiomysql": ("aiomysql",),
    "asyncmy": ("asyncmy",),
    "cymysql": ("cymysql",),
    "cx_oracle": ("cx_Oracle",),
    "oracledb": ("oracledb",),
    "pyodbc": ("pyodbc",),
    "aioodbc": ("aioodbc",),
    "pymssql": ("pymssql",),
    "mssqlpython": ("mssql-python",),
    "aiosqlite": ("aiosqlite",),
    "pysqlcipher": ("sqlcipher3-binary",),
}

#: The driver to suggest instead, per database: the one this package's own
#: tests use.
_OTHER_DRIVER = {"postgresql": "psycopg", "mysql": "pymysql", "mariadb": "pymysql"}


class MissingDriver(NamedTuple):
    """What SQLAlchemy was importing, and for which URL."""

    #: The module that is not installed (``psycopg2``, ``MySQLdb``).
    module: str
    #: The dialect's names: ``postgresql`` and ``psycopg2``.
    database: str
    driver: str
    #: The URL the engine was made from; None when it could not be found.
    url: URL | None

    def explain(self) -> str:
        """What is missing and how to install it: the tail of a message that
        begins with where the URL came from.
        """
        packages = PACKAGES.get(self.driver, ())
        if packages:
            install = (
                f"Install it there: {sys.executable} -m pip install"
                f" '{packages[0]}'"
                + (f" (or {', '.join(packages[1:])})" if packages[1:] else "")
            )
        else:
            install = (
                f"Install the package that provides the module {self.module!r}"
                f" with the pip of {sys.executable}"
            )
        named = f"{self.database}+{self.driver}"
        implied = (
            f" (a URL that names no driver after the '+' means {named})"
            if self.url is not None and "+" not in self.url.drivername
            else ""
        )
        other = _OTHER_DRIVER.get(self.database)
        instead = ""
        if other is not None and other != self.driver:
            example = (
                _with_driver(self.url, other)
                if self.url is not None
                else f"{self.database}+{other}://..."
            )
            instead = (
                "; or name another driver after the '+', one that is installed,"
                f" for example {example}"
            )
        where = f"The database URL {safe_url(self.url)}" if self.url else "The app"
        return (
            f"{where} needs the {named} driver{implied}, whose module"
            f" {self.module!r} is not installed in the Python that runs alembic"
            f" ({sys.executable}). {install}{instead}."
        )


def _with_driver(url: URL, driver: str) -> str:
    """``url`` with ``driver`` after the '+', masked, for the advice."""
    return safe_url(url.set(drivername=f"{url.get_backend_name()}+{driver}"))


def missing_driver(error: BaseException) -> MissingDriver | None:
    """The driver ``error`` says is missing, when it is SQLAlchemy's import
    of a dialect's DBAPI module that failed because the module is not there
    (not when the driver is installed and its own import failed: that
    error keeps its traceback).

    SQLAlchemy's ``ModuleNotFoundError`` carries only the module's name; the
    dialect and the URL that asked for it are in the frames that raised it,
    its own ``import_dbapi()`` and ``create_engine()``, so they are read
    there.
    """
    if not isinstance(error, ModuleNotFoundError) or not error.name:
        return None
    frames = [frame for frame, _ in traceback.walk_tb(error.__traceback__)]
    if not frames or not _is_import_dbapi(frames[-1]):
        return None
    dialect = frames[-1].f_locals.get("cls")
    database = getattr(dialect, "name", None)
    driver = getattr(dialect, "driver", None)
    if not isinstance(database, str) or not isinstance(driver, str):
        return None
    return MissingDriver(error.name, database, driver, _engine_url(frames))


def _is_import_dbapi(frame: FrameType) -> bool:
    module = frame.f_globals.get("__name__")
    return (
        frame.f_code.co_name == "import_dbapi"
        and isinstance(module, str)
        # (ODBC drivers are imported by a connector the dialects share.)
        and module.startswith(("sqlalchemy.dialects.", "sqlalchemy.connectors."))
    )


def _engine_url(frames: list[FrameType]) -> URL | None:
    """The URL ``create_engine()`` was called with (as it parsed it)."""
    for frame in reversed(frames):
        if (
            frame.f_code.co_name == "create_engine"
            and frame.f_globals.get("__name__") == "sqlalchemy.engine.create"
        ):
            url = frame.f_locals.get("u")
            return url if isinstance(url, URL) else None
    return None
