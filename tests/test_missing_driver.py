"""A database URL whose driver is not installed: one ``FAILED:`` line that
names the driver, the package to install and the URL (password masked),
instead of the traceback through the app's factory where Flask-SQLAlchemy
made the engine.
"""

from __future__ import annotations

import re
from importlib.util import find_spec

import pytest

from harness import BIN_DIR
from harness import Project

SECRET = "s3cretPw"


def python_in(message: str) -> str:
    """The python of the venv the alembic script belongs to, as the message
    names it (python, python3 or python3.11).
    """
    found = re.search(rf"{re.escape(str(BIN_DIR))}/python[\d.]*", message)
    assert found is not None
    return found.group()


def failure_without_secret(blog: Project, *args: str) -> str:
    message = blog.failure(*args)
    assert SECRET not in blog.output(blog.alembic(*args, ok=False))
    return message


FROM_INI = "flask_app = 'blogapp:create_app' (from [alembic] in alembic.ini): "


def test_mysqldb_named_in_the_url(blog: Project) -> None:
    blog.env["BLOGAPP_DATABASE_URI"] = (
        f"mysql+mysqldb://app:{SECRET}@127.0.0.1:1/app?charset=utf8mb4"
    )
    message = failure_without_secret(blog, "upgrade", "head")
    python = python_in(message)
    assert message == (
        f"{FROM_INI}The database URL"
        " mysql+mysqldb://app:***@127.0.0.1:1/app?charset=utf8mb4 needs the"
        " mysql+mysqldb driver, whose module 'MySQLdb' is not installed in the"
        f" Python that runs alembic ({python}). Install it there: {python} -m"
        " pip install 'mysqlclient'; or name another driver after the '+', one"
        " that is installed, for example"
        " mysql+pymysql://app:***@127.0.0.1:1/app?charset=utf8mb4."
    )
    assert not blog.database().exists()


def test_the_default_driver_of_a_url_that_names_none(blog: Project) -> None:
    blog.env["BLOGAPP_DATABASE_URI"] = (
        f"mysql://app:{SECRET}@127.0.0.1:1/app?charset=utf8mb4"
    )
    message = failure_without_secret(blog, "current")
    python = python_in(message)
    assert message == (
        f"{FROM_INI}The database URL"
        " mysql://app:***@127.0.0.1:1/app?charset=utf8mb4 needs the"
        " mysql+mysqldb driver (a URL that names no driver after the '+' means"
        " mysql+mysqldb), whose module 'MySQLdb' is not installed in the"
        f" Python that runs alembic ({python}). Install it there: {python} -m"
        " pip install 'mysqlclient'; or name another driver after the '+', one"
        " that is installed, for example"
        " mysql+pymysql://app:***@127.0.0.1:1/app?charset=utf8mb4."
    )


@pytest.mark.skipif(
    find_spec("psycopg2") is not None,
    reason="psycopg2 is installed here (the tox environments lack it)",
)
def test_psycopg2_with_a_secret_query_parameter(blog: Project) -> None:
    blog.env["BLOGAPP_DATABASE_URI"] = (
        f"postgresql+psycopg2://app:{SECRET}@127.0.0.1:1/app?sslpassword={SECRET}"
    )
    message = failure_without_secret(blog, "upgrade", "head")
    python = python_in(message)
    assert message == (
        f"{FROM_INI}The database URL"
        " postgresql+psycopg2://app:***@127.0.0.1:1/app?sslpassword=*** needs"
        " the postgresql+psycopg2 driver, whose module 'psycopg2' is not"
        f" installed in the Python that runs alembic ({python}). Install it"
        f" there: {python} -m pip install 'psycopg2-binary' (or psycopg2); or"
        " name another driver after the '+', one that is installed, for"
        " example postgresql+psycopg://app:***@127.0.0.1:1/app?sslpassword=***."
    )


def test_an_app_made_when_its_module_is_imported(blog: Project) -> None:
    """Flask wraps an error raised while the module is imported; the engine
    is made there too.
    """
    (blog.root / "module_app.py").write_text(
        "from blogapp.extensions import db\n"
        "from flask import Flask\n\n"
        "app = Flask(__name__)\n"
        f"app.config['SQLALCHEMY_DATABASE_URI'] = 'mssql+pymssql://sa:{SECRET}@db/app'\n"
        "db.init_app(app)\n"
    )
    blog.set_ini_option("flask_app", "module_app")
    message = failure_without_secret(blog, "current")
    python = python_in(message)
    assert message == (
        "flask_app = 'module_app' (from [alembic] in alembic.ini): The database"
        " URL mssql+pymssql://sa:***@db/app needs the mssql+pymssql driver,"
        " whose module 'pymssql' is not installed in the Python that runs"
        f" alembic ({python}). Install it there: {python} -m pip install"
        " 'pymssql'."
    )


def test_plain_sqlalchemy_whose_engine_alembic_flask_env_makes(
    blog: Project,
) -> None:
    (blog.root / "plain_app.py").write_text(
        "from flask import Flask\n"
        "from sqlalchemy import MetaData\n\n"
        "metadata = MetaData()\n\n\n"
        "def create_app():\n"
        "    app = Flask(__name__)\n"
        "    app.config['SQLALCHEMY_DATABASE_URI'] = (\n"
        f"        'mysql+mysqldb://app:{SECRET}@127.0.0.1:1/app'\n"
        "    )\n"
        "    return app\n"
    )
    blog.set_ini_option("flask_app", "plain_app")
    blog.set_ini_option("flask_metadata", "plain_app:metadata")
    message = failure_without_secret(blog, "current")
    python = python_in(message)
    assert message == (
        "SQLALCHEMY_DATABASE_URI of Flask app 'plain_app': The database URL"
        " mysql+mysqldb://app:***@127.0.0.1:1/app needs the mysql+mysqldb"
        " driver, whose module 'MySQLdb' is not installed in the Python that"
        f" runs alembic ({python}). Install it there: {python} -m pip install"
        " 'mysqlclient'; or name another driver after the '+', one that is"
        " installed, for example mysql+pymysql://app:***@127.0.0.1:1/app."
    )
