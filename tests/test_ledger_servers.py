"""The ledger on the real servers: ``--sql`` scripts applied with the
servers' own clients, failures after part of a run committed, what a
failed step is named, timestamps.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from datetime import datetime
from datetime import timedelta
from datetime import timezone

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from harness import Project
from harness import ProjectFactory
from harness import other_session
from harness import package_command
from harness import query
from harness import upgraded_in_process
from harness import use_transaction_per_migration
from harness import write_revision

PSQL = shutil.which("psql")
MARIADB = shutil.which("mariadb") or shutil.which("mysql")


def apply_script(project: Project, script: str) -> None:
    """Apply an ``upgrade --sql`` script as a DBA would: with the server's
    own command-line client, stopping at the first error.
    """
    url = make_url(project.server_url)
    # (The passwords in the environment: never on a command line.)
    env = {
        **os.environ,
        "PGPASSWORD": url.password or "",
        "MYSQL_PWD": url.password or "",
    }
    if url.get_backend_name() == "postgresql":
        assert PSQL is not None, "psql is not installed"
        command = [
            PSQL, "-X", "-q", "-v", "ON_ERROR_STOP=1",
            "-h", str(url.host), "-p", str(url.port or 5432),
            "-U", str(url.username), "-d", str(url.database),
        ]  # fmt: skip
    else:
        assert MARIADB is not None, "the mariadb client is not installed"
        command = [
            MARIADB, "-h", str(url.host), "-P", str(url.port or 3306),
            "-u", str(url.username), str(url.database),
        ]  # fmt: skip
    result = subprocess.run(
        command, input=script, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


def execute(project: Project, sql: str) -> None:
    """Run ``sql`` (which returns no rows) on the project's database."""
    with other_session(project) as connection:
        connection.execute(text(sql))
        connection.commit()


def database_user(project: Project) -> str:
    return str(make_url(project.server_url).username)


def write_two(project: Project) -> None:
    write_revision(project, "r1", None, "op.execute('CREATE TABLE a (id int)')")
    write_revision(project, "r2", "r1", "op.execute('CREATE TABLE b (id int)')")


@pytest.mark.parametrize("server", ["pg", "maria"])
def test_an_sql_script_records_when_and_by_whom_it_is_applied(
    server: str, request: pytest.FixtureRequest
) -> None:
    project: Project = request.getfixturevalue(server)
    write_two(project)
    script = project.alembic("upgrade", "head", "--sql").stdout
    # Applied later, by someone else: the rows say when, and who.
    time.sleep(2)
    before = datetime.now(timezone.utc) - timedelta(seconds=1)
    apply_script(project, script)
    after = datetime.now(timezone.utc) + timedelta(seconds=1)
    rows = query(
        project,
        "SELECT revision, from_revision, outcome, started_at, os_user, command"
        " FROM alembic_ledger ORDER BY id",
    )
    assert [row[:3] for row in rows] == [
        ("r1", None, "applied"),
        ("r2", "r1", "applied"),
    ]
    for row in rows:
        started = row[3]
        assert isinstance(started, datetime)
        if started.tzinfo is None:  # MariaDB's DATETIME: UTC
            started = started.replace(tzinfo=timezone.utc)
        assert before <= started <= after
        assert str(row[4]).split("@")[0] == database_user(project)
        assert "upgrade head --sql" in str(row[5])
    assert query(project, "SELECT version_num FROM alembic_version") == [("r2",)]


def write_both_ways(
    project: Project, revision: str, down: str | None, upgrade: str, downgrade: str
) -> None:
    """A revision file with both bodies (one line each)."""
    path = project.root / "migrations" / "versions" / f"{revision}.py"
    path.write_text(
        "from alembic import op\n\n"
        f"revision = {revision!r}\n"
        f"down_revision = {down!r}\n"
        "branch_labels = None\n"
        "depends_on = None\n\n\n"
        f"def upgrade():\n    {upgrade}\n\n\n"
        f"def downgrade():\n    {downgrade}\n"
    )


AUTOCOMMIT = "with op.get_context().autocommit_block(): op.execute('SELECT 1')"


def ledger_steps(project: Project) -> list[tuple[object, ...]]:
    return query(
        project,
        "SELECT direction, from_revision, revision, outcome FROM alembic_ledger"
        " ORDER BY id",
    )


@pytest.mark.parametrize("server", ["pg", "maria"])
def test_a_failed_downgrade_after_an_autocommit_block_says_what_was_kept(
    server: str, request: pytest.FixtureRequest
) -> None:
    """The run is in one transaction, but r2's autocommit block commits
    the downgrade of r3 before it; r1's downgrade then fails.
    """
    project: Project = request.getfixturevalue(server)
    write_both_ways(
        project, "r1", None, "op.execute('SELECT 1')", "op.execute('nonsense')"
    )
    write_both_ways(project, "r2", "r1", "op.execute('SELECT 1')", AUTOCOMMIT)
    write_both_ways(
        project, "r3", "r2", "op.execute('SELECT 1')", "op.execute('SELECT 2')"
    )
    upgraded_in_process(project)
    # (The revision's traceback is logged: the error is in the user's code.)
    result = project.alembic("downgrade", "base", ok=False)
    [message] = [
        line.removeprefix("FAILED: ")
        for line in result.stdout.splitlines()
        if line.startswith("FAILED: ")
    ]
    # MySQL gives each revision a transaction of its own in any case.
    kept = "r1" if server == "maria" else "r2"
    assert query(project, "SELECT version_num FROM alembic_version") == [(kept,)]
    name = (
        "MariaDB, which commits every DDL"
        if server == "maria"
        else "failed after part of this run was committed: an autocommit block"
    )
    assert message.startswith("Revision r1 (") and name in message, message
    assert f"alembic_version now says {kept}:" in message
    second = "applied" if server == "maria" else "rolled back"
    assert ledger_steps(project) == [
        ("downgrade", "r3", "r2", "applied"),
        ("downgrade", "r2", "r1", second),
        ("downgrade", "r1", None, "failed"),
    ]
    code, output = package_command(project, "ledger", "-n", "1")
    assert code == 0
    lines = output.splitlines()[1:]
    assert [line.split(" in ")[0] for line in lines] == [
        "  downgrade r3 -> r2  applied",
        f"  downgrade r2 -> r1  {second}",
        "  downgrade r1 -> <base>  failed",
    ]


@pytest.mark.mariadb
def test_mariadb_times_are_utc_to_the_microsecond(maria: Project) -> None:
    write_two(maria)
    maria.alembic("upgrade", "head")  # two steps, each timed
    code, output = package_command(maria, "ledger", "--format", "json")
    assert code == 0, output
    runs = json.loads(output)
    now = datetime.now(timezone.utc)
    for run in runs:
        for step in run["steps"]:
            started = datetime.fromisoformat(step["started_at"])
            assert step["started_at"].endswith("+00:00")
            assert abs(now - started) < timedelta(seconds=60)
    # Whole seconds would make every microsecond 0.
    assert any(
        datetime.fromisoformat(step["started_at"]).microsecond
        for run in runs
        for step in run["steps"]
    )


def share_the_database(first: Project, second: Project) -> None:
    """``second`` is another app on ``first``'s database, with a version
    table of its own.
    """
    second.env["BLOGAPP_DATABASE_URI"] = first.server_url
    second.server_url = first.server_url
    (second.root / "migrations" / "env.py").write_text(
        "from alembic_flask_env import run_migrations\n\n"
        "run_migrations(version_table='other_version')\n"
    )


@pytest.mark.postgresql
def test_two_apps_in_one_database_each_list_their_own_runs(
    pg: Project, project_factory: ProjectFactory
) -> None:
    other = project_factory(
        "blog", subdir="other", template="flask", flask_app="blogapp:create_app"
    )
    share_the_database(pg, other)
    write_revision(pg, "a1", None, "op.execute('CREATE TABLE a (id int)')")
    write_revision(other, "b1", None, "op.execute('CREATE TABLE b (id int)')")
    pg.alembic("upgrade", "head")
    other.alembic("upgrade", "head")
    code, output = package_command(pg, "ledger")
    assert code == 0 and "<base> -> a1" in output and "b1" not in output, output
    code, output = package_command(other, "ledger", "--version-table", "other_version")
    assert code == 0 and "<base> -> b1" in output and "a1" not in output, output
    assert query(
        pg, "SELECT revision, version_table FROM alembic_ledger ORDER BY id"
    ) == [
        ("a1", "alembic_version"),
        ("b1", "other_version"),
    ]


@pytest.mark.mariadb
def test_a_required_ledger_says_what_the_run_kept(maria: Project) -> None:
    """(A view in the table's place stands in for a user without CREATE:
    bringing it to the ledger's shape fails, and on MariaDB a failed DDL
    statement commits what came before it, r1 here.)
    """
    write_two(maria)
    execute(maria, "CREATE VIEW alembic_ledger AS SELECT 1 AS x")
    message = maria.failure("-x", "migration_ledger=required", "upgrade", "head")
    assert message.startswith("Could not write the ledger table alembic_ledger ("), (
        message
    )
    assert message.endswith(
        " and migration_ledger = required. Grant the migrating user CREATE (and"
        " INSERT) there, create alembic_ledger as a DBA, or set migration_ledger"
        " = true to warn and run on. The run stopped there; alembic_version now"
        " says r1: the revisions up to there were committed."
    ), message
    assert query(maria, "SELECT version_num FROM alembic_version") == [("r1",)]


@pytest.mark.postgresql
def test_a_required_ledger_in_one_transaction_kept_nothing(pg: Project) -> None:
    write_two(pg)
    execute(pg, "CREATE VIEW alembic_ledger AS SELECT 1 AS x")
    message = pg.failure("-x", "migration_ledger=required", "upgrade", "head")
    assert message.endswith(
        " The run stopped there; alembic_version now says nothing (base):"
        " nothing this run applied was kept."
    ), message


# -- What a failed step is called --------------------------------------------


def failed_rows(project: Project) -> list[tuple[object, ...]]:
    return [row for row in ledger_steps(project) if row[3] == "failed"]


@pytest.mark.postgresql
def test_a_failed_step_per_revision_names_where_it_started(pg: Project) -> None:
    use_transaction_per_migration(pg)
    write_both_ways(pg, "r1", None, "op.execute('SELECT 1')", "op.execute('SELECT 1')")
    write_both_ways(pg, "r2", "r1", "op.execute('nonsense')", "op.execute('nonsense')")
    pg.alembic("upgrade", "head", ok=False)
    assert ledger_steps(pg) == [
        ("upgrade", None, "r1", "applied"),
        ("upgrade", "r1", "r2", "failed"),
    ]


@pytest.mark.mariadb
def test_a_failed_downgrade_on_mariadb_ends_at_its_down_revision(
    maria: Project,
) -> None:
    write_both_ways(
        maria, "r1", None, "op.execute('SELECT 1')", "op.execute('SELECT 1')"
    )
    write_both_ways(
        maria, "r2", "r1", "op.execute('SELECT 1')", "op.execute('nonsense')"
    )
    upgraded_in_process(maria)
    maria.alembic("downgrade", "base", ok=False)
    assert failed_rows(maria) == [("downgrade", "r2", "r1", "failed")]


@pytest.mark.pgbouncer
def test_a_lock_lost_behind_pgbouncer_records_the_step_it_stopped(
    bounced: Project,
) -> None:
    use_transaction_per_migration(bounced)
    write_revision(bounced, "d1", None, "op.execute('SELECT 1')")
    write_revision(bounced, "d2", "d1", "op.execute('SELECT pg_sleep(2)')")
    write_revision(bounced, "d3", "d2", "op.execute('SELECT 1')")

    def end_the_lock_session() -> None:
        with other_session(bounced) as session:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                holder = session.execute(
                    text(
                        "SELECT l.pid FROM pg_locks l JOIN pg_stat_activity a"
                        " USING (pid) WHERE l.locktype = 'advisory' AND l.granted"
                        " AND a.datname = current_database()"
                    )
                ).scalar()
                session.commit()
                if holder:
                    session.execute(
                        text("SELECT pg_terminate_backend(:pid)"), {"pid": holder}
                    )
                    session.commit()
                    return
                time.sleep(0.05)

    result = bounced.alembic_acting_on(
        "upgrade",
        "head",
        log_line="Running upgrade d1 -> d2",
        action=end_the_lock_session,
        ok=False,
    )
    assert "was lost while revision d1 -> d2 was applied" in result.stdout, (
        bounced.output(result)
    )
    assert ledger_steps(bounced) == [
        ("upgrade", None, "d1", "applied"),
        ("upgrade", "d1", "d2", "failed"),
    ]


@pytest.mark.postgresql
def test_a_ledger_that_cannot_be_written_leaves_the_run_committed(pg: Project) -> None:
    """The rows are written as the run's transaction commits: a failure
    there is a warning, and the migration still commits.
    """
    write_two(pg)
    execute(pg, "CREATE VIEW alembic_ledger AS SELECT 1 AS x")
    result = pg.alembic("upgrade", "head")
    assert "; this run is not recorded." in result.stderr
    assert query(pg, "SELECT version_num FROM alembic_version") == [("r2",)]
    assert query(pg, "SELECT count(*) FROM b") == [(0,)]
