"""Recognising SQLAlchemy's import of a driver that is not installed."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine

from alembic_flask_env.app.drivers import missing_driver


def raised_by(url: str) -> ModuleNotFoundError:
    with pytest.raises(ModuleNotFoundError) as raised:
        create_engine(url)
    return raised.value


def test_the_driver_and_the_url_come_from_sqlalchemys_frames() -> None:
    found = missing_driver(raised_by("mysql+mysqldb://app:pw@db/app"))
    assert found is not None
    assert (found.module, found.database, found.driver) == (
        "MySQLdb",
        "mysql",
        "mysqldb",
    )
    assert found.url is not None
    assert found.url.render_as_string(hide_password=False) == (
        "mysql+mysqldb://app:pw@db/app"
    )


def test_an_odbc_driver_is_imported_by_a_shared_connector() -> None:
    found = missing_driver(raised_by("mssql+pyodbc://app:pw@dsn"))
    assert found is not None
    assert (found.module, found.driver) == ("pyodbc", "pyodbc")


def test_a_module_missing_anywhere_else_is_not_a_driver() -> None:
    with pytest.raises(ModuleNotFoundError) as raised:
        import no_such_module_anywhere  # type: ignore[import-not-found]  # noqa: F401
    assert missing_driver(raised.value) is None
    assert missing_driver(ImportError("not a ModuleNotFoundError")) is None
