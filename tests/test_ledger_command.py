"""``python -m alembic_flask_env ledger`` on input that is not the happy
path: a server down, a table of another shape, a tenant out of reach, bad
``-n``; and two apps with their own version tables in one database.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing

import pytest
from conftest import server_url
from sqlalchemy import create_engine
from sqlalchemy import text
from sqlalchemy.engine import make_url

from harness import POSTGRESQL_URL_VARIABLE
from harness import Project
from harness import ProjectFactory
from harness import package_command
from harness import query
from harness import upgraded_in_process
from harness import write_revision


def ledger(project: Project, *arguments: str) -> tuple[int, str]:
    return package_command(project, "ledger", *arguments)


def test_a_count_below_one_is_refused(blog: Project) -> None:
    # A database the tool has migrated (made in this process: the refusal
    # is what is tested): r1 applied, and the ledger table.
    write_revision(blog, "r1", None, "op.execute('SELECT 1')")
    blog.database().parent.mkdir(exist_ok=True)
    blog.server_url = f"sqlite:///{blog.database()}"
    upgraded_in_process(blog)
    for count in ("0", "-1"):
        assert ledger(blog, "-n", count) == (
            2,
            f"FAILED: -n {count}: the number of runs to list must be at least 1"
            " (the default is 10).\n",
        )


def test_a_table_of_another_shape_is_one_line(blog: Project) -> None:
    (blog.root / "instance").mkdir(exist_ok=True)
    blog.query("default.db", "CREATE TABLE alembic_ledger (id integer, note text)")
    assert ledger(blog) == (
        1,
        "FAILED: the database of Flask app 'blogapp': The table alembic_ledger is"
        " not a migration ledger: it has no column run_id, revision,"
        " from_revision, direction, started_at, duration_s, outcome, error,"
        " os_user, host, command, app, versions. Something else made a table of"
        " that name: set migration_ledger_table to another name in alembic.ini"
        " (runs then record there), or rename that table.\n",
    )


def test_a_server_down_is_one_line(blog: Project) -> None:
    # (The driver named: "postgresql://" means psycopg2 before SQLAlchemy
    # 2.1, which the lowest supported versions do not have installed.)
    blog.env["BLOGAPP_DATABASE_URI"] = (
        "postgresql+psycopg://app:hunter2@127.0.0.1:9/app"
    )
    code, output = ledger(blog)
    assert code == 1
    [line] = output.splitlines()
    assert line.startswith("FAILED: ") and "Traceback" not in output
    assert "hunter2" not in output and "127.0.0.1" in line


@pytest.fixture
def tenant_server() -> Iterator[str]:
    """A PostgreSQL URL whose database ``<name>_acme`` exists and
    ``<name>_beta`` does not.
    """
    server = server_url(POSTGRESQL_URL_VARIABLE, "start-postgresql")
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}_acme"'))
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{name}_acme" WITH (FORCE)'))
        admin.dispose()


@pytest.mark.postgresql
def test_a_tenant_out_of_reach_leaves_the_others_listed(
    project_factory: ProjectFactory, tenant_server: str
) -> None:
    project = project_factory(
        "blog",
        template="flask",
        flask_app="blogapp:create_app",
        flask_tenants="tenancy:databases",
    )
    project.env["BLOG_TENANTS"] = "acme,beta"
    project.env["BLOG_TENANT_SERVER"] = tenant_server
    write_revision(project, "r1", None, "op.execute('SELECT 1')")
    project.alembic("-x", "tenants=acme", "upgrade", "head")
    code, output = ledger(project)
    assert code == 1, output
    printed, failed = output.rstrip("\n").rsplit("\n", 1)
    assert "(tenant 'acme'): " in printed
    assert "  upgrade <base> -> r1  applied in " in printed
    assert failed.startswith("FAILED: ") and "beta" in failed
    assert "Traceback" not in output
    assert str(make_url(tenant_server).password) not in output


#: The ledger's table as the first versions made it.
OLD_LEDGER = """
CREATE TABLE alembic_ledger (
    id INTEGER NOT NULL PRIMARY KEY, run_id VARCHAR(32) NOT NULL,
    revision VARCHAR(255), from_revision VARCHAR(255),
    direction VARCHAR(10) NOT NULL, started_at DATETIME NOT NULL,
    duration_s FLOAT NOT NULL, outcome VARCHAR(12) NOT NULL,
    error VARCHAR(500), os_user VARCHAR(128), host VARCHAR(255),
    command VARCHAR(500), app VARCHAR(255), versions VARCHAR(255)
)
"""


def test_a_ledger_of_an_earlier_version_gets_the_version_table(blog: Project) -> None:
    (blog.root / "instance").mkdir(exist_ok=True)
    with closing(sqlite3.connect(blog.database())) as connection, connection:
        connection.execute(OLD_LEDGER)
        connection.execute(
            "INSERT INTO alembic_ledger VALUES (1, 'old', 'r0', NULL, 'upgrade',"
            " '2026-01-01 00:00:00', 0.5, 'applied', NULL, 'u', 'h', 'c', 'a', 'v')"
        )
    code, output = ledger(blog)
    assert code == 0 and "  upgrade <base> -> r0  applied in 0.50 s" in output
    write_revision(blog, "r1", None, "op.execute('SELECT 1')")
    blog.alembic("upgrade", "head")
    rows = blog.query(
        "default.db", "SELECT revision, version_table FROM alembic_ledger ORDER BY id"
    )
    assert rows == [("r0", None), ("r1", "alembic_version")]
    code, output = ledger(blog)
    assert code == 0 and "<base> -> r0" in output and "<base> -> r1" in output


# -- Settings refused before the run ------------------------------------------


def test_the_version_table_is_refused_as_the_ledger(blog: Project) -> None:
    write_revision(blog, "r1", None, "op.execute('SELECT 1')")
    assert blog.failure(
        "-x", "migration_ledger_table=alembic_version", "upgrade", "head"
    ) == (
        "migration_ledger_table = 'alembic_version' (from -x"
        " migration_ledger_table=...) names the version table, where Alembic keeps"
        " the current revision: the ledger's rows cannot go there. Set"
        " migration_ledger_table = alembic_ledger (the default) or another name"
        " than alembic_version."
    )
    (blog.root / "migrations" / "env.py").write_text(
        "from alembic_flask_env import run_migrations\n\n"
        "run_migrations(version_table='blog_version')\n"
    )
    blog.set_ini_option("migration_ledger_table", "blog_version")
    assert blog.failure("upgrade", "head").startswith(
        "migration_ledger_table = 'blog_version' (from [alembic] in alembic.ini)"
        " names the version table,"
    )
    assert not blog.database().exists() or blog.tables() == set()


@pytest.mark.parametrize(("server", "limit"), [("pg", 63), ("maria", 64)])
def test_a_ledger_table_name_too_long_for_the_server(
    server: str, limit: int, request: pytest.FixtureRequest
) -> None:
    project: Project = request.getfixturevalue(server)
    write_revision(project, "r1", None, "op.execute('CREATE TABLE a (id int)')")
    name = "l" * 100
    server_name = "PostgreSQL" if server == "pg" else "MySQL"
    assert project.failure(
        "-x", f"migration_ledger_table={name}", "upgrade", "head"
    ) == (
        f"migration_ledger_table = '{name}' (from -x migration_ledger_table=...)"
        f" is 100 characters long, and {server_name} takes table names of at"
        f" most {limit}. Set migration_ledger_table to a shorter name, such as"
        " alembic_ledger (the default)."
    )
    # Nothing was run.
    here = "current_schema()" if server == "pg" else "DATABASE()"
    assert query(
        project,
        "SELECT count(*) FROM information_schema.tables"
        f" WHERE table_name = 'alembic_version' AND table_schema = {here}",
    ) == [(0,)]
    # The longest name the server takes works.
    project.alembic("-x", f"migration_ledger_table={'l' * limit}", "upgrade", "head")
    assert query(project, f"SELECT revision FROM {'l' * limit}") == [("r1",)]
