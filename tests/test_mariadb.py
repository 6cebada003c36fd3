"""On a real MariaDB server (through PyMySQL): the templates, the migration
lock, failures on a database that cannot roll back DDL, table lock waits.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.engine import make_url

from alembic_flask_env.runtime.lock.keys import mysql_lock_name

from harness import LEDGER_TABLE
from harness import Project
from harness import assert_each_deploy_revision_ran_once
from harness import autogenerate
from harness import other_session
from harness import parallel_upgrades
from harness import query
from harness import upgraded_in_process
from harness import write_deploy_revisions
from harness import write_revision

pytestmark = pytest.mark.mariadb


def tables(project: Project) -> set[str]:
    """The app's tables, but the ledger's (tests/test_ledger.py)."""
    rows = query(project, "SHOW TABLES")
    return {str(row[0]) for row in rows} - {LEDGER_TABLE}


def versions(project: Project) -> list[str]:
    if "alembic_version" not in tables(project):
        return []
    return [
        str(row[0]) for row in query(project, "SELECT version_num FROM alembic_version")
    ]


@pytest.fixture
def session(maria: Project) -> Iterator[Connection]:
    """Another session on the project's database, as the app or a deploy
    would have one.
    """
    with other_session(maria) as connection:
        yield connection


def test_the_flask_template_autogenerates_compares_types_and_writes_sql(
    maria: Project,
) -> None:
    assert "Detected added table 'user'" in autogenerate(maria)
    maria.alembic("upgrade", "head")
    assert tables(maria) == {"user", "post", "alembic_version"}
    models = maria.root / "blogapp" / "models.py"
    models.write_text(models.read_text().replace("db.String(50)", "db.String(120)"))
    output = autogenerate(maria, "longer names")
    assert "Detected type change from VARCHAR(length=50) to String(length=120)" in (
        output
    )
    sql = maria.alembic("upgrade", "head", "--sql").stdout
    assert "CREATE TABLE user (" in sql
    assert "ALTER TABLE user MODIFY name VARCHAR(120) NOT NULL;" in sql
    password = make_url(maria.server_url).password
    assert password
    assert password not in maria.output(maria.alembic("current", "-v"))


def test_the_flask_multidb_template_on_two_databases(
    multiblog: Project, mariadb_databases: Callable[[], str]
) -> None:
    main, users = mariadb_databases(), mariadb_databases()
    multiblog.env["MULTIBLOG_DATABASE_URI"] = main
    multiblog.env["MULTIBLOG_USERS_URI"] = users
    autogenerate(multiblog)
    multiblog.alembic("upgrade", "head")
    [revision] = multiblog.revision_files()
    revision_id = revision.name.split("_")[0]
    assert multiblog.alembic("current").stdout == (
        f"default: {revision_id} (head)\nusers: {revision_id} (head)\n"
    )
    for url, table in ((main, "post"), (users, "account")):
        multiblog.server_url = url
        assert tables(multiblog) == {table, "alembic_version"}
    multiblog.alembic("downgrade", "base")
    assert tables(multiblog) == {"alembic_version"}


def lock_name_of(project: Project) -> str:
    """The GET_LOCK name a run on the project's database takes."""
    database = make_url(project.server_url).database
    assert database
    return mysql_lock_name(database, "alembic_version", None)


def test_eight_parallel_deploys_apply_each_revision_once(maria: Project) -> None:
    write_deploy_revisions(maria, "SELECT SLEEP(1)")
    codes, outputs = parallel_upgrades(maria)
    assert codes == [0] * 8, "\n".join(outputs)
    assert sum(output.count("Running upgrade") for output in outputs) == 3
    assert_each_deploy_revision_ran_once(maria)
    assert versions(maria) == ["d3"]


def test_without_the_lock_parallel_deploys_race(maria: Project) -> None:
    write_deploy_revisions(maria, "SELECT SLEEP(1)")
    codes, outputs = parallel_upgrades(maria, "-x", "migration_lock=false")
    runs = sum(output.count("Running upgrade d") for output in outputs)
    assert runs > 3 or any(codes), "the race did not show: the test proves nothing"


def test_a_held_lock_times_out_with_the_same_message(
    maria: Project, session: Connection
) -> None:
    write_revision(maria, "t1", None, 'op.execute("CREATE TABLE t (id int)")')
    name = lock_name_of(maria)
    assert session.execute(text("SELECT GET_LOCK(:n, 0)"), {"n": name}).scalar() == 1
    started = time.monotonic()
    assert maria.failure("-x", "migration_lock_timeout=1", "upgrade", "head") == (
        "Another migration run held the migration lock for 1 s"
        " (migration_lock_timeout = '1' (from -x migration_lock_timeout=...))."
        " Wait for it to finish and run again, raise migration_lock_timeout, or"
        " set migration_lock = false if nothing else migrates this database."
    )
    assert time.monotonic() - started < 30
    assert "t" not in tables(maria)
    # What only reads does not wait.
    maria.alembic("-x", "migration_lock_timeout=1", "current")
    session.execute(text("SELECT RELEASE_LOCK(:n)"), {"n": name})
    maria.alembic("upgrade", "head")
    assert "t" in tables(maria)


def test_a_failed_downgrade_says_what_mariadb_kept(maria: Project) -> None:
    """In a downgrade it is the revision's downgrade() that failed, and what
    completed are the downgrades of the revisions after it.
    """
    write_revision(maria, "r1", None, 'op.execute("CREATE TABLE first (id int)")')
    broken = write_revision(maria, "r2", "r1", 'op.execute("CREATE TABLE b (id int)")')
    broken.write_text(
        broken.read_text().replace(
            "def downgrade():\n    pass",
            'def downgrade():\n    op.execute("DROP TABLE b")\n'
            '    op.execute("SELECT * FROM no_such_table")',
        )
    )
    write_revision(maria, "r3", "r2", 'op.execute("CREATE TABLE c (id int)")')
    upgraded_in_process(maria)
    result = maria.alembic("downgrade", "base", ok=False)
    [line] = [x for x in result.stdout.splitlines() if x.startswith("FAILED: ")]
    assert line.startswith(
        f"FAILED: Revision r2 ({broken}, line 15) failed on MariaDB, which commits"
        " every DDL statement at once, so part of it may be applied (its"
        " downgrade). alembic_version now says r2: the downgrades of the"
        " revisions after it completed, each in its own transaction."
    ), line
    assert versions(maria) == ["r2"]


def test_a_failed_revision_says_what_mariadb_kept(maria: Project) -> None:
    write_revision(maria, "r1", None, 'op.execute("CREATE TABLE first (id int)")')
    broken = write_revision(
        maria,
        "r2",
        "r1",
        """
        op.execute("CREATE TABLE second (id int)")
        op.execute("SELECT * FROM no_such_table")
        """,
    )
    result = maria.alembic("upgrade", "head", ok=False)
    [line] = [x for x in result.stdout.splitlines() if x.startswith("FAILED: ")]
    assert line.startswith(
        f"FAILED: Revision r2 ({broken}, line 11) failed on MariaDB, which commits"
        " every DDL statement at once, so part of it may be applied."
        " alembic_version now says r1: the revisions up to there completed,"
        " each in its own transaction. Compare the database with the failed"
        " revision, undo (or finish) what it did by hand, then run again. The"
        ' error: (1146, "Table '
    )
    assert "no_such_table' doesn't exist" in line
    # The error keeps its traceback, in the log.
    assert "Traceback (most recent call last):" in result.stderr
    assert versions(maria) == ["r1"]
    assert {"first", "second"} <= tables(maria), "MariaDB kept the CREATE TABLE"

    broken.write_text(
        broken.read_text()
        .replace("CREATE TABLE second", "CREATE TABLE IF NOT EXISTS second")
        .replace('op.execute("SELECT * FROM no_such_table")', "pass")
    )
    maria.alembic("upgrade", "head")
    assert versions(maria) == ["r2"]


def test_a_table_lock_wait_is_bounded_and_retried(
    maria: Project, session: Connection
) -> None:
    write_revision(maria, "n1", None, 'op.execute("CREATE TABLE note (id int)")')
    upgraded_in_process(maria)
    altering = write_revision(
        maria, "n2", "n1", 'op.execute("ALTER TABLE note ADD COLUMN body text")'
    )
    # An open transaction that read the table holds its metadata lock.
    session.execute(text("START TRANSACTION"))
    session.execute(text("SELECT * FROM note")).all()

    message = maria.failure("-x", "table_lock_timeout=1", "upgrade", "head")
    assert message == (
        f"Revision n2 ({altering}, line 10) waited more than 1 s for a lock on"
        " table 'note' (table_lock_timeout = '1' (from -x"
        " table_lock_timeout=...)), once, and was rolled back where the"
        " database allows. Something holds that table: a long transaction or"
        " query of the app, or another session. Let it finish (or end it) and"
        " run again, or raise table_lock_timeout or table_lock_retries."
    )
    assert versions(maria) == ["n1"]

    # With retries, the run succeeds once the other session lets go.
    retrying = "waited more than 1 s for a lock on table 'note'; running again"
    result = maria.alembic_acting_on(
        *("-x", "table_lock_timeout=1", "-x", "table_lock_retries=3"),
        *("upgrade", "head"),
        log_line=retrying,
        action=session.rollback,
    )
    assert retrying in result.stderr
    assert versions(maria) == ["n2"]


def test_a_lock_connection_lost_mid_run_stops_the_run(maria: Project) -> None:
    """The revision kills the session that holds GET_LOCK, as a server-side
    timeout or a DBA would: the run stops before k1 is recorded, saying
    what MariaDB kept, instead of going on without the lock.
    """
    name = lock_name_of(maria)
    write_revision(maria, "k0", None, 'op.execute("CREATE TABLE before_kill (id int)")')
    write_revision(
        maria,
        "k1",
        "k0",
        f"""
        holder = op.get_bind().execute(
            sa.text("SELECT IS_USED_LOCK('{name}')")
        ).scalar()
        op.execute(f"KILL {{holder}}")
        op.execute("CREATE TABLE after_kill (id int)")
        """,
    )
    revision = maria.root / "migrations" / "versions" / "k1.py"
    revision.write_text("import sqlalchemy as sa\n" + revision.read_text())
    result = maria.alembic("upgrade", "head", ok=False)
    message = result.stdout.strip()
    assert message.startswith(
        f"FAILED: The migration lock (MySQL lock {name!r}) was lost while"
        " revision k0 -> k1 was applied (it was rolled back): its connection"
        " failed ("
    )
    assert message.endswith(
        "Another run may be migrating this database now, so this run stopped"
        " there; this run committed <base> -> k0 before that (MySQL and MariaDB"
        " commit DDL at once: part of that last revision may be applied), and"
        " alembic_version now says k0. Let any other run finish, then run"
        " again; if the lock's session was ended by an idle timeout of the"
        " server or a pooler, raise that timeout."
    )
    assert "Traceback" not in result.stderr
    assert "Could not" not in result.stderr
    assert versions(maria) == ["k0"]


def test_a_query_argument_the_driver_does_not_take(maria: Project) -> None:
    url = make_url(maria.server_url).update_query_dict({"token": "t0kenvalue"})
    maria.env["BLOGAPP_DATABASE_URI"] = url.render_as_string(hide_password=False)
    result = maria.alembic("upgrade", "head", ok=False)
    message = result.stdout.strip()
    assert message.startswith("FAILED: Could not connect to mysql+pymysql://")
    assert "token=***" in message
    assert "its driver (pymysql) refused the connection arguments:" in message
    assert "unexpected keyword argument 'token'" in message
    assert message.endswith(
        "Remove that parameter from the URL's query string (or from connect_args"
        " in the app's engine options), or spell it as the driver's"
        " documentation does."
    )
    assert "Traceback" not in result.stderr
    output = maria.output(result)
    assert "t0kenvalue" not in output
    assert str(url.password) not in output


def test_revisions_slow_to_record_outlive_a_short_wait_timeout(
    maria: Project,
) -> None:
    """The server ends sessions idle for 3 s; the checks record three
    revisions that each spend 1.5 s in Python (at import, and in upgrade()):
    4.5 s of silence on the migration connection. The run connects again
    and applies them, instead of failing on the closed connection and
    saying part of a revision may be applied when nothing ran.
    """
    maria.env["BLOGAPP_CONNECT_ARGS"] = json.dumps(
        {"init_command": "SET SESSION wait_timeout = 3"}
    )
    down = None
    for name in ("w1", "w2", "w3"):
        path = write_revision(
            maria,
            name,
            down,
            f"""
            time.sleep(1.5)
            op.execute("CREATE TABLE {name} (id int PRIMARY KEY)")
            """,
        )
        path.write_text("import time\n\ntime.sleep(1.5)\n" + path.read_text())
        down = name
    result = maria.alembic("upgrade", "head")
    assert "Running upgrade w2 -> w3" in result.stderr
    assert (
        "The server closed the migration connection while the revisions were"
        " checked (" in result.stderr
    )
    assert "connected again. Nothing had run on it." in result.stderr
    assert {"w1", "w2", "w3"} <= tables(maria)
    assert versions(maria) == ["w3"]
