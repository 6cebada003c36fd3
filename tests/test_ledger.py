"""The ledger: a row per revision step of every run, failures kept after a
rollback, the ``ledger`` command, autogenerate leaving the table alone.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import sqlite3
import subprocess
import time
from contextlib import closing
from datetime import datetime
from datetime import timedelta
from datetime import timezone

import pytest
from alembic.config import Config
from sqlalchemy.engine import make_url

from alembic_flask_env.errors import InvalidSetting
from alembic_flask_env.ledger.settings import read_ledger_settings

from harness import ALEMBIC
from harness import Project
from harness import ProjectFactory
from harness import package_command
from harness import query
from harness import upgrade_in_process
from harness import use_transaction_per_migration
from harness import write_revision
from start_states import StartStates
from start_states import run_autogenerate
from start_states import run_upgrade

COLUMNS = (
    "revision, from_revision, direction, outcome, error, os_user, host,"
    " command, app, versions, run_id, duration_s"
)


def ledger_rows(
    project: Project, database: str | None = None
) -> list[dict[str, object]]:
    sql = f"SELECT {COLUMNS} FROM alembic_ledger ORDER BY id"
    rows = project.query(database, sql) if database is not None else query(project, sql)
    names = [name.strip() for name in COLUMNS.split(",")]
    return [dict(zip(names, row, strict=True)) for row in rows]


def ledger_command(project: Project, *arguments: str) -> tuple[int, str]:
    return package_command(project, "ledger", *arguments)


def write_two(
    project: Project, second: str = "op.execute('CREATE TABLE b (id int)')"
) -> None:
    write_revision(project, "r1", None, "op.execute('CREATE TABLE a (id int)')")
    write_revision(project, "r2", "r1", second)


def test_each_step_of_a_run_is_a_row(blog: Project) -> None:
    write_two(blog)
    blog.alembic("upgrade", "head")
    rows = ledger_rows(blog, "default.db")
    assert [
        (r["revision"], r["from_revision"], r["direction"], r["outcome"]) for r in rows
    ] == [
        ("r1", None, "upgrade", "applied"),
        ("r2", "r1", "upgrade", "applied"),
    ]
    assert len({r["run_id"] for r in rows}) == 1
    first = rows[0]
    assert first["app"] == "blogapp"
    assert "upgrade head" in str(first["command"])
    assert str(first["versions"]).startswith("alembic-flask-env ")
    assert first["host"] == socket.gethostname()
    assert re.fullmatch("[0-9a-f]{32}", str(first["run_id"]))
    assert first["error"] is None
    assert float(str(first["duration_s"])) >= 0

    blog.alembic("downgrade", "base")
    rows = ledger_rows(blog, "default.db")
    assert [(r["revision"], r["direction"]) for r in rows[2:]] == [
        ("r1", "downgrade"),
        (None, "downgrade"),
    ]
    blog.alembic("stamp", "head")
    assert ledger_rows(blog, "default.db")[-1]["direction"] == "stamp"


def test_a_run_that_does_nothing_creates_no_table(blog: Project) -> None:
    blog.alembic("upgrade", "head")
    assert "alembic_ledger" not in {
        str(row[0])
        for row in blog.query("default.db", "SELECT name FROM sqlite_master")
    }


def test_autogenerate_never_proposes_to_drop_the_ledger(
    blog: Project, start_states: StartStates
) -> None:
    # After real autogenerate and upgrade runs (made once per session): the
    # database has the ledger table, which the models do not.
    start_states.restore(
        blog,
        "blog-upgraded",
        run_upgrade,
        base=("blog-generated", run_autogenerate),
    )
    assert ("alembic_ledger",) in blog.query(
        "default.db", "SELECT name FROM sqlite_master"
    )
    (blog.root / "migrations" / "env.py").write_text(
        "from alembic_flask_env import run_migrations\n\n"
        "run_migrations(include_object=lambda *args: True)\n"
    )
    output = blog.output(blog.alembic("revision", "--autogenerate", "-m", "again"))
    assert "No changes in schema detected." in output
    blog.alembic("check")


def test_the_ledger_command_in_both_formats(blog: Project) -> None:
    write_two(blog)
    code, output = ledger_command(blog)
    assert (code, output.strip()) == (0, "No runs recorded.")
    blog.alembic("upgrade", "r1")
    blog.alembic("upgrade", "head")
    code, output = ledger_command(blog, "-n", "1")
    assert code == 0
    assert "upgrade r1 -> r2  applied in " in output
    assert "r1 ->" in output and "<base> -> r1" not in output  # the last run only
    code, output = ledger_command(blog, "--format", "json")
    runs = json.loads(output)
    assert [run["steps"][0]["revision"] for run in runs] == ["r2", "r1"]


BAD_LEDGER_SETTINGS = [
    (
        "migration_ledger",
        "maybe",
        "migration_ledger = 'maybe' (from -x migration_ledger=...) is neither a"
        " boolean nor 'required'. Set migration_ledger = true (the default:"
        " record every run, warn if the table cannot be written), required"
        " (fail instead) or false.",
    ),
    (
        "migration_ledger_table",
        "my-ledger",
        "migration_ledger_table = 'my-ledger' (from -x"
        " migration_ledger_table=...) is not a table name (letters, digits and"
        " underscores, not starting with a digit). Set migration_ledger_table ="
        " alembic_ledger (the default) or another such name.",
    ),
]


def test_bad_ledger_settings(blog: Project) -> None:
    """The first end to end; every one's message from the function the run
    calls to read the settings (the same path, one setting after the other).
    """
    key, value, message = BAD_LEDGER_SETTINGS[0]
    assert blog.failure("-x", f"{key}={value}", "upgrade", "head") == message
    config = Config(str(blog.root / "alembic.ini"))
    for key, value, message in BAD_LEDGER_SETTINGS:
        with pytest.raises(InvalidSetting) as raised:
            read_ledger_settings(config, {key: value})
        assert str(raised.value) == message


def test_a_ledger_that_cannot_be_written_warns_unless_required(blog: Project) -> None:
    """(A view in the table's place stands in for a user without CREATE.)"""
    write_two(blog, "op.execute('SELECT 1')")
    # At r1 with no ledger, as `-x migration_ledger=false upgrade r1` leaves
    # it (made in this process: not the run under test).
    blog.database().parent.mkdir(exist_ok=True)
    blog.server_url = f"sqlite:///{blog.database()}"
    upgrade_in_process(blog, "r1")
    assert ("alembic_ledger",) not in blog.query(
        "default.db", "SELECT name FROM sqlite_master"
    )
    blog.query("default.db", "CREATE VIEW alembic_ledger AS SELECT 1 AS x")
    result = blog.alembic(
        "-x", "migration_ledger=required", "upgrade", "head", ok=False
    )
    assert result.stdout.startswith(
        "FAILED: Could not write the ledger table alembic_ledger ("
    )
    assert blog.version() == ["r1"]
    result = blog.alembic("upgrade", "head")
    assert "; this run is not recorded." in result.stderr
    assert blog.version() == ["r2"]


def test_offline_sql_records_the_run_too(blog: Project) -> None:
    write_two(blog)
    sql = blog.alembic("upgrade", "head", "--sql").stdout
    assert "CREATE TABLE IF NOT EXISTS alembic_ledger" in sql
    assert sql.count("INSERT INTO alembic_ledger") == 2


# -- On the servers -------------------------------------------------------------


@pytest.mark.postgresql
def test_a_failure_rolled_back_is_still_recorded(pg: Project) -> None:
    password = make_url(pg.server_url).password
    write_two(
        pg,
        f"raise RuntimeError('cannot reach postgresql://migrator:{password}@db/x')",
    )
    pg.alembic("upgrade", "head", ok=False)
    rows = ledger_rows(pg)
    assert [(r["revision"], r["outcome"]) for r in rows] == [
        ("r1", "rolled back"),
        ("r2", "failed"),
    ]
    assert rows[1]["error"] == "cannot reach postgresql://***@db/x"
    # The run's transaction, alembic_version's creation included, is undone.
    assert query(pg, "SELECT to_regclass('alembic_version')") == [(None,)]


@pytest.mark.postgresql
def test_a_run_killed_keeps_the_rows_of_the_steps_that_committed(pg: Project) -> None:
    use_transaction_per_migration(pg)
    write_two(pg, "op.execute('SELECT pg_sleep(60)')")
    assert ALEMBIC is not None
    process = subprocess.Popen(
        [ALEMBIC, "upgrade", "head"],
        cwd=pg.root,
        env=pg.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if query(
                pg,
                "SELECT count(*) FROM pg_stat_activity WHERE query LIKE"
                " 'SELECT pg_sleep(60)%'",
            ) == [(1,)]:
                break
            time.sleep(0.1)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait()
    rows = ledger_rows(pg)
    assert [(r["revision"], r["outcome"]) for r in rows] == [("r1", "applied")]


@pytest.mark.mariadb
def test_a_partial_failure_on_mariadb_says_what_was_kept(maria: Project) -> None:
    write_two(maria, "op.execute('CREATE TABLE b (id int)')\nop.execute('nonsense')")
    result = maria.alembic("upgrade", "head", ok=False)
    assert "Running upgrade r1 -> r2" in result.stderr, maria.output(result)
    rows = ledger_rows(maria)
    assert [(r["revision"], r["outcome"]) for r in rows] == [
        ("r1", "applied"),
        ("r2", "failed"),
    ]
    assert "failed on MariaDB, which commits every DDL statement at once" in str(
        rows[1]["error"]
    )


def test_the_ledger_command_without_an_ini_and_for_plain_sqlalchemy(
    project_factory: ProjectFactory,
) -> None:
    shapes = project_factory(
        "shapes", template="flask", flask_metadata="shapes_models:Base.metadata"
    )
    shapes.set_ini_option("flask_app", "plain_app:create_app")
    assert ledger_command(shapes, "-c", "nowhere.ini") == (
        2,
        "FAILED: nowhere.ini is not a file; pass -c.\n",
    )
    shapes.alembic("revision", "--autogenerate", "-m", "init")
    shapes.alembic("-x", "db_password=hunter2", "upgrade", "head")
    code, output = ledger_command(shapes, "--format", "json")
    [run] = json.loads(output)
    assert "db_password=***" in run["command"]
    assert "hunter2" not in output
    shapes.set_ini_option("flask_app", "no_such_module:app")
    code, output = ledger_command(shapes)
    assert code == 2 and "FAILED: flask_app = " in output


def test_an_sql_script_on_sqlite_records_when_it_is_applied(blog: Project) -> None:
    write_two(blog)
    script = blog.alembic("upgrade", "head", "--sql").stdout
    (blog.root / "instance").mkdir(exist_ok=True)
    with closing(sqlite3.connect(blog.database())) as connection:
        connection.executescript(script)
    rows = blog.query(
        "default.db",
        "SELECT revision, started_at, os_user, duration_s, command FROM alembic_ledger"
        " ORDER BY id",
    )
    assert [row[0] for row in rows] == ["r1", "r2"]
    for _, started, user, duration, command in rows:
        # SQLite's CURRENT_TIMESTAMP: UTC, when the script ran; no users.
        applied = datetime.fromisoformat(str(started)).replace(tzinfo=timezone.utc)
        assert abs(datetime.now(timezone.utc) - applied) < timedelta(seconds=60)
        assert user is None and duration == 0
        assert str(command).endswith("upgrade head --sql")
