"""Edges that need a real PostgreSQL server: autocommit engines, secrets in
the URL's query string, the lock and what only reads, a server that dies.
"""

from __future__ import annotations

import re
import time
import urllib.parse
from collections.abc import Callable

import pytest
from sqlalchemy.engine import URL
from sqlalchemy.engine import make_url

from harness import Project
from harness import columns
from harness import hold_the_migration_lock
from harness import outputs_of_every_command
from harness import query
from harness import upgrade_in_process
from harness import use_transaction_per_migration
from harness import write_revision
from start_states import StartStates
from start_states import generated_and_upgraded

pytestmark = pytest.mark.postgresql

FAILING_STATEMENT = 'op.execute("SELECT this_function_does_not_exist()")'


def write_counter_revisions(project: Project) -> None:
    """c1 makes a counter at 0; c2 adds a table; c3 counts, then fails."""
    write_revision(
        project,
        "c1",
        None,
        """
        op.execute("CREATE TABLE counter (n integer)")
        op.execute("INSERT INTO counter VALUES (0)")
        """,
    )
    write_revision(project, "c2", "c1", 'op.execute("CREATE TABLE extra (id integer)")')
    write_revision(
        project,
        "c3",
        "c2",
        f"""
        op.execute("UPDATE counter SET n = n + 1")
        {FAILING_STATEMENT}
        """,
    )


@pytest.mark.parametrize("per_migration", [False, True])
def test_an_autocommit_engine_still_migrates_in_transactions(
    pg: Project, per_migration: bool
) -> None:
    pg.env["BLOGAPP_ISOLATION_LEVEL"] = "AUTOCOMMIT"
    if per_migration:
        use_transaction_per_migration(pg)
    write_counter_revisions(pg)
    upgrade_in_process(pg, "c1")  # the start state, in this process

    pg.alembic("upgrade", "head", ok=False)
    assert query(pg, "SELECT n FROM counter") == [(0,)], "the UPDATE was kept"
    if per_migration:
        assert columns(pg, "extra") == ["id"]
        assert query(pg, "SELECT version_num FROM alembic_version") == [("c2",)]
    else:
        assert columns(pg, "extra") == [], "c2 ran in the rolled back transaction"
        assert query(pg, "SELECT version_num FROM alembic_version") == [("c1",)]

    revision = pg.root / "migrations" / "versions" / "c3.py"
    revision.write_text(revision.read_text().replace(FAILING_STATEMENT, "pass"))
    pg.alembic("upgrade", "head")
    assert query(pg, "SELECT n FROM counter") == [(1,)], "the UPDATE ran twice"
    assert query(pg, "SELECT version_num FROM alembic_version") == [("c3",)]


# -- Secrets in the query string ---------------------------------------------


def with_password_in_query(url: str) -> str:
    """The same database, its password moved into ``?password=``."""
    parsed = make_url(url)
    assert parsed.password
    # (URL.set() takes password=None as "unchanged".)
    return URL.create(
        parsed.drivername,
        username=parsed.username,
        host=parsed.host,
        port=parsed.port,
        database=parsed.database,
        query={"password": parsed.password},
    ).render_as_string(hide_password=False)


def secret_forms(secret: str) -> list[str]:
    return [
        secret,
        urllib.parse.quote_plus(secret),
        urllib.parse.quote(secret, safe=""),
    ]


def set_every_logger_to_debug(project: Project) -> None:
    ini = project.root / "alembic.ini"
    ini.write_text(re.sub(r"(?m)^level = \w+$", "level = DEBUG", ini.read_text()))


def test_a_password_in_the_query_string_is_never_printed(pg: Project) -> None:
    password = make_url(pg.server_url).password
    assert password
    url = with_password_in_query(pg.server_url)
    pg.env["BLOGAPP_DATABASE_URI"] = url
    outputs = outputs_of_every_command(pg)
    assert "?password=***" in outputs[1]
    wrong = url.replace(urllib.parse.quote_plus(password), "wrong%25pass%40word")
    pg.env["BLOGAPP_DATABASE_URI"] = wrong
    failed = pg.alembic("current", ok=False)
    outputs.append(pg.output(failed))
    user = make_url(url).username
    assert f"FAILED: Could not connect to postgresql+psycopg://{user}@" in (
        failed.stdout
    )
    assert "?password=***" in failed.stdout

    pg.env["BLOGAPP_DATABASE_URI"] = url
    set_every_logger_to_debug(pg)
    outputs.append(pg.output(pg.alembic("upgrade", "head")))
    outputs.append(pg.output(pg.alembic("downgrade", "head:base", "--sql")))
    for output in outputs:
        for secret in [*secret_forms(password), *secret_forms("wrong%pass@word")]:
            assert secret not in output


def write_empty_multidb_revision(project: Project) -> None:
    """What ``alembic revision -m empty`` writes with the flask-multidb
    template: the dispatch, and a function doing nothing per bind. Written
    here, without a subprocess: the test is about the ``--sql`` run.
    """
    functions = "".join(
        f"\n\ndef {direction}_{bind}() -> None:\n    pass\n"
        for bind in ("default", "users")
        for direction in ("upgrade", "downgrade")
    )
    (project.root / "migrations" / "versions" / "e1_empty.py").write_text(
        "revision = 'e1'\n"
        "down_revision = None\n"
        "branch_labels = None\n"
        "depends_on = None\n\n\n"
        "def upgrade(engine_name: str) -> None:\n"
        '    globals().get(f"upgrade_{engine_name}", lambda: None)()\n\n\n'
        "def downgrade(engine_name: str) -> None:\n"
        '    globals().get(f"downgrade_{engine_name}", lambda: None)()\n' + functions
    )


def test_the_multidb_sql_bind_header_masks_query_secrets(
    multiblog: Project, postgresql_databases: Callable[[], str]
) -> None:
    project = multiblog
    main = with_password_in_query(postgresql_databases())
    users = with_password_in_query(postgresql_databases()) + "&sslpassword=k3y%21pass"
    project.env["MULTIBLOG_DATABASE_URI"] = main
    project.env["MULTIBLOG_USERS_URI"] = users
    write_empty_multidb_revision(project)
    output = project.output(project.alembic("upgrade", "head", "--sql"))
    assert re.search(
        r"-- Bind 'users': \S+\?password=\*\*\*&sslpassword=\*\*\*", output
    )
    for url in (main, users):
        for name, value in make_url(url).query.items():
            assert isinstance(value, str)
            for secret in secret_forms(value):
                assert secret not in output, name


# -- The lock and commands that only read ------------------------------------


def test_current_check_and_autogenerate_do_not_wait_for_the_lock(
    pg: Project, start_states: StartStates
) -> None:
    generated_and_upgraded(pg, start_states)
    engine, connection = hold_the_migration_lock(pg)
    try:
        # Were the lock taken, each would fail after 1 s with FAILED.
        timeout = ("-x", "migration_lock_timeout=1")
        assert "(head)" in pg.alembic(*timeout, "current").stdout
        pg.alembic(*timeout, "check")
        pg.alembic(*timeout, "revision", "--autogenerate", "-m", "nothing")
        # What writes still waits, and gives up.
        message = pg.failure(*timeout, "stamp", "base")
        assert message.startswith("Another migration run held the migration lock")
    finally:
        connection.close()
        engine.dispose()


def test_lock_settings_from_pyproject_take_effect(pg: Project) -> None:
    write_revision(pg, "t1", None, 'op.execute("CREATE TABLE t (id integer)")')
    engine, connection = hold_the_migration_lock(pg)
    try:
        pyproject = pg.root / "pyproject.toml"
        pyproject.write_text("[tool.alembic]\nmigration_lock_timeout = 0\n")
        started = time.monotonic()
        assert pg.failure("upgrade", "head") == (
            "Another migration run held the migration lock for 0 s"
            " (migration_lock_timeout = '0' (from [tool.alembic] in"
            " pyproject.toml)). Wait for it to finish and run again, raise"
            " migration_lock_timeout, or set migration_lock = false if nothing"
            " else migrates this database."
        )
        assert time.monotonic() - started < 30, "0 must not mean the default"

        pyproject.write_text("[tool.alembic]\nmigration_lock = false\n")
        pg.alembic("upgrade", "head")
        assert columns(pg, "t") == ["id"]
    finally:
        connection.close()
        engine.dispose()


def test_a_database_lost_mid_run_gives_its_own_error_and_nothing_more(
    pg: Project,
) -> None:
    """The revision locks its own user out of the database and ends its
    session, as when the server dies. The lock went with the transaction:
    nothing reconnects to release it, so no second error or traceback
    follows the run's own.
    """
    write_revision(
        pg,
        "k1",
        None,
        """
        op.execute(
            "DO $$ BEGIN EXECUTE format('REVOKE CONNECT ON DATABASE %I FROM"
            " PUBLIC, CURRENT_USER', current_database()); END $$"
        )
        op.execute("COMMIT")
        op.execute("SELECT pg_terminate_backend(pg_backend_pid())")
        """,
    )
    result = pg.alembic("upgrade", "head", ok=False)
    assert "terminating connection due to administrator command" in result.stderr
    assert "permission denied for database" not in result.stderr
    assert "migration lock" not in result.stderr
    # The driver's error and SQLAlchemy's wrapping of it: one chain.
    assert result.stderr.count("Traceback (most recent call last):") == 2
