"""Integration-test harness, shared by the test modules.

Every test copies a complete mini-project from ``tests/projects/`` into
``tmp_path`` and drives the real ``alembic`` console script of the installed
package in a subprocess there, with an explicit environment, then looks at the
real SQLite files it left behind.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import closing
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import warm_processes

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection
    from sqlalchemy.engine import Engine

POSTGRESQL_URL_VARIABLE = "ALEMBIC_FLASK_ENV_TEST_POSTGRESQL_URL"
MARIADB_URL_VARIABLE = "ALEMBIC_FLASK_ENV_TEST_MARIADB_URL"
PGBOUNCER_URL_VARIABLE = "ALEMBIC_FLASK_ENV_TEST_PGBOUNCER_URL"
PROJECTS = Path(__file__).resolve().parent / "projects"
BIN_DIR = Path(sys.executable).parent
ALEMBIC = shutil.which("alembic", path=str(BIN_DIR))

# Variables of the developer's shell that would change what the app loads.
_LEAKY_VARIABLES = (
    "FLASK_APP",
    "FLASK_DEBUG",
    "BLOGAPP_DATABASE_URI",
    "BLOGAPP_ISOLATION_LEVEL",
    "BLOGAPP_CONNECT_ARGS",
    "PYTHONPATH",
    POSTGRESQL_URL_VARIABLE,
    MARIADB_URL_VARIABLE,
    PGBOUNCER_URL_VARIABLE,
)


def slow(*values: object) -> object:
    """A parameter set marked slow: a case whose outcome is a library's,
    not the Python's, run in coverage and min but not py313 (see the marker
    in pyproject.toml).
    """
    return pytest.param(*values, marks=pytest.mark.slow)


def clean_environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _LEAKY_VARIABLES}
    env["PATH"] = os.pathsep.join([str(BIN_DIR), env.get("PATH", "")])
    # python-dotenv is a test dependency (except in min); only the tests
    # about .env files read them.
    env["FLASK_SKIP_DOTENV"] = "1"
    env.pop("PYTHONDEVMODE", None)
    return env


class Project:
    """A mini-project copied into a temporary directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.env = clean_environment()
        #: Set by the server fixtures: the URL of the project's database.
        self.server_url = ""

    def run(
        self,
        *args: str,
        cwd: Path | None = None,
        ok: bool | None = True,
    ) -> subprocess.CompletedProcess[str]:
        """Run a command in the project; ``ok`` says whether it must
        succeed (True), fail (False) or may do either (None).
        """
        result = warm_processes.run(
            args, cwd or self.root, self.env, server_env=clean_environment()
        )
        if ok and result.returncode != 0:
            pytest.fail(
                f"{args} exited {result.returncode}\n"
                f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
            )
        if ok is False and result.returncode == 0:
            pytest.fail(
                f"{args} unexpectedly succeeded\n"
                f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
            )
        return result

    @staticmethod
    def output(result: subprocess.CompletedProcess[str]) -> str:
        """Alembic prints FAILED: on stdout and its log on stderr."""
        return result.stdout + result.stderr

    def alembic(
        self, *args: str, cwd: Path | None = None, ok: bool = True
    ) -> subprocess.CompletedProcess[str]:
        assert ALEMBIC is not None, f"no alembic script in {BIN_DIR}"
        return self.run(ALEMBIC, *args, cwd=cwd, ok=ok)

    def alembic_acting_on(
        self,
        *args: str,
        log_line: str,
        action: Callable[[], None],
        ok: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        """Run alembic, and call ``action`` (release a lock, say) as soon as
        its log shows a line containing ``log_line``: at the moment the run
        waits, whatever the machine's load, not after a guessed delay. The
        action runs once in any case, so a run that never logs the line
        still ends (and the test's assertions on its log then fail).
        """
        assert ALEMBIC is not None, f"no alembic script in {BIN_DIR}"
        stdout: list[str] = []
        stderr: list[str] = []
        acted = False
        with subprocess.Popen(
            [ALEMBIC, *args],
            cwd=self.root,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ) as process:
            output, log = process.stdout, process.stderr
            assert output is not None and log is not None
            draining = threading.Thread(target=lambda: stdout.extend(output))
            draining.start()
            try:
                for line in log:
                    stderr.append(line)
                    if not acted and log_line in line:
                        acted = True
                        action()
                process.wait(timeout=120)
            finally:
                process.kill()
                draining.join()
                if not acted:
                    action()
        result = subprocess.CompletedProcess(
            process.args, process.returncode, "".join(stdout), "".join(stderr)
        )
        if (result.returncode == 0) != ok:
            pytest.fail(
                f"{args} exited {result.returncode}\n"
                f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
            )
        return result

    def failure(self, *args: str) -> str:
        """Run alembic, expect one ``FAILED:`` line and no traceback, and
        return the message after ``FAILED: ``.
        """
        result = self.alembic(*args, ok=False)
        assert "Traceback" not in self.output(result)
        [line] = [x for x in result.stdout.splitlines() if x.startswith("FAILED: ")]
        return line.removeprefix("FAILED: ")

    def python(
        self, *args: str, cwd: Path | None = None, ok: bool = True
    ) -> subprocess.CompletedProcess[str]:
        return self.run(sys.executable, *args, cwd=cwd, ok=ok)

    def init(self, template: str = "flask", directory: str = "migrations") -> None:
        self.alembic("init", "-t", template, directory)

    def set_ini_option(self, key: str, value: str, ini: str = "alembic.ini") -> None:
        """Set ``key`` in the [alembic] section of an ini written by init."""
        path = self.root / ini
        text = path.read_text()
        line = f"{key} = {value}"
        pattern = re.compile(rf"^{re.escape(key)}\s*=.*$", re.MULTILINE)
        if pattern.search(text):
            text = pattern.sub(lambda _: line, text, count=1)
        else:
            text = text.replace("[alembic]\n", f"[alembic]\n{line}\n", 1)
        path.write_text(text)

    def revision_files(self, directory: str = "migrations") -> list[Path]:
        return sorted((self.root / directory / "versions").glob("*.py"))

    def database(self, name: str = "default.db") -> Path:
        return self.root / "instance" / name

    def tables(self, name: str = "default.db") -> set[str]:
        """The tables of the app's SQLite database, but the ledger's (every
        run that writes alembic_version records itself there, which
        tests/test_ledger.py checks).
        """
        path = self.database(name)
        if not path.exists():
            return set()
        rows = self.query(name, "SELECT name FROM sqlite_master WHERE type = 'table'")
        return {str(row[0]) for row in rows} - {LEDGER_TABLE}

    def version(self, name: str = "default.db") -> list[str]:
        return [
            str(row[0])
            for row in self.query(name, "SELECT version_num FROM alembic_version")
        ]

    def query(self, name: str, sql: str) -> list[tuple[object, ...]]:
        """Run ``sql`` on the SQLite database ``name`` of ``instance/``."""
        with closing(sqlite3.connect(self.database(name))) as connection:
            return connection.execute(sql).fetchall()


ProjectFactory = Callable[..., Project]

#: The tables the blog project's models make, with Alembic's own.
#: The ledger's default table name.
LEDGER_TABLE = "alembic_ledger"
BLOG_TABLES = {"user", "post", "alembic_version"}


def autogenerate(project: Project, message: str = "init") -> str:
    """``alembic revision --autogenerate``; what it printed."""
    return project.output(project.alembic("revision", "--autogenerate", "-m", message))


# -- PostgreSQL ------------------------------------------------------------


def query(project: Project, sql: str) -> list[tuple[object, ...]]:
    """Run ``sql`` on the project's PostgreSQL database."""
    from sqlalchemy import create_engine
    from sqlalchemy import text

    engine = create_engine(project.server_url)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(sql))]
    finally:
        engine.dispose()


def columns(project: Project, table: str) -> list[str]:
    rows = query(
        project,
        "SELECT column_name FROM information_schema.columns"
        f" WHERE table_name = '{table}' ORDER BY ordinal_position",
    )
    return [str(row[0]) for row in rows]


def write_revision(
    project: Project, revision: str, down: str | None, upgrade: str
) -> Path:
    """A revision file with ``upgrade`` as the body of ``upgrade()``."""
    body = textwrap.indent(textwrap.dedent(upgrade).strip(), "    ")
    path = project.root / "migrations" / "versions" / f"{revision}.py"
    path.write_text(
        f"from alembic import op\n\n"
        f"revision = {revision!r}\n"
        f"down_revision = {down!r}\n"
        "branch_labels = None\n"
        "depends_on = None\n\n\n"
        f"def upgrade():\n{body}\n\n\n"
        "def downgrade():\n    pass\n"
    )
    return path


def upgrade_in_process(project: Project, target: str) -> None:
    """Bring the project's database to ``target`` in this process: each
    pending revision's ``upgrade()`` run with Alembic's operations on a
    connection of the test's own, then alembic_version stamped. For a start
    state that is not the run under test, without an ``alembic``
    subprocess (the runs under test are the console script's).
    """
    from alembic.operations import Operations
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from sqlalchemy import create_engine

    script = ScriptDirectory(str(project.root / "migrations"))
    engine = create_engine(project.server_url)
    try:
        with engine.begin() as connection:
            context = MigrationContext.configure(connection)
            heads = context.get_current_heads()
            pending = script.iterate_revisions(target, heads, implicit_base=True)
            with Operations.context(context):
                for revision in reversed(list(pending)):
                    revision.module.upgrade()
            context.stamp(script, target)
    finally:
        engine.dispose()


def upgraded_in_process(project: Project, target: str = "head") -> None:
    """The start state ``alembic upgrade TARGET`` leaves, made in this
    process (it is not the run under test): the revisions applied,
    alembic_version stamped, and the ledger table a run would have made,
    with no rows (in the schema the project's URL puts first).
    """
    upgrade_in_process(project, target)
    from sqlalchemy import create_engine

    from alembic_flask_env.ledger.table import ledger_table

    engine = create_engine(project.server_url)
    try:
        ledger_table(LEDGER_TABLE, None, engine.dialect.name).create(engine)
    finally:
        engine.dispose()


def hold_the_migration_lock(project: Project) -> tuple[Engine, Connection]:
    """Take the migration lock of the project's database in this process,
    as a running deploy would; close the connection to release it.
    """
    from sqlalchemy import create_engine
    from sqlalchemy import text

    from alembic_flask_env.runtime.lock.keys import lock_id

    engine = create_engine(project.server_url)
    connection = engine.connect()
    key = lock_id("alembic_version", None)
    connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
    connection.commit()
    return engine, connection


def write_deploy_revisions(project: Project, pause: str) -> None:
    """d1 makes a log table (pausing in ``pause``, SQL that sleeps, to widen
    the race window), d2 and d3 each log themselves: a revision that runs
    twice shows in the log, or fails.
    """
    write_revision(
        project,
        "d1",
        None,
        f"""
        op.execute("CREATE TABLE deploy_log (revision varchar(10))")
        op.execute("{pause}")
        op.execute("INSERT INTO deploy_log VALUES ('d1')")
        """,
    )
    write_revision(
        project, "d2", "d1", "op.execute(\"INSERT INTO deploy_log VALUES ('d2')\")"
    )
    write_revision(
        project,
        "d3",
        "d2",
        """
        op.execute("ALTER TABLE deploy_log ADD COLUMN note text")
        op.execute("INSERT INTO deploy_log (revision) VALUES ('d3')")
        """,
    )


def parallel_upgrades(
    project: Project, *arguments: str, count: int = 8
) -> tuple[list[int], list[str]]:
    """``count`` ``alembic upgrade head`` processes started at once, as
    parallel deploys do; their exit codes and outputs.
    """
    return parallel_commands(project, [[*arguments, "upgrade", "head"]] * count)


def parallel_commands(
    project: Project, commands: list[list[str]]
) -> tuple[list[int], list[str]]:
    """One ``alembic`` process per command, all started at once; their exit
    codes and outputs. Each waits a bounded time for the lock, so that a
    lock never released fails the test in a minute instead of hanging it,
    and every process is ended afterwards.
    """
    assert ALEMBIC is not None
    processes = [
        subprocess.Popen(
            [ALEMBIC, "-x", "migration_lock_timeout=60", *command],
            cwd=project.root,
            env=project.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for command in commands
    ]
    try:
        outputs = [process.communicate(timeout=120)[0] for process in processes]
    finally:
        for process in processes:
            process.kill()
            process.wait()
    return [process.returncode for process in processes], outputs


def assert_each_deploy_revision_ran_once(project: Project) -> None:
    rows = query(project, "SELECT revision FROM deploy_log ORDER BY revision")
    assert rows == [("d1",), ("d2",), ("d3",)]


def use_transaction_per_migration(project: Project) -> None:
    """An env.py that commits each revision on its own."""
    (project.root / "migrations" / "env.py").write_text(
        "from alembic_flask_env import run_migrations\n\n"
        "run_migrations(transaction_per_migration=True)\n"
    )


@contextmanager
def other_session(project: Project) -> Iterator[Connection]:
    """Another session on the project's database, as the app's or a
    deploy's would be.
    """
    from sqlalchemy import create_engine

    engine = create_engine(project.server_url)
    connection = engine.connect()
    try:
        yield connection
    finally:
        connection.close()
        engine.dispose()


def package_command(project: Project, *arguments: str) -> tuple[int, str]:
    """``python -m alembic_flask_env ARGUMENTS`` in the project: its exit
    code and its output (stdout, then stderr).
    """
    result = project.run(sys.executable, "-m", "alembic_flask_env", *arguments, ok=None)
    return result.returncode, result.stdout + result.stderr


def outputs_of_every_command(project: Project) -> list[str]:
    """What autogenerate, upgrade, ``current -v``, ``history -v``,
    ``upgrade --sql`` and ``check`` print, in that order: to search every
    output for a secret.
    """
    commands = [
        ("revision", "--autogenerate", "-m", "init"),
        ("upgrade", "head"),
        ("current", "-v"),
        ("history", "-v"),
        ("upgrade", "head", "--sql"),
        ("check",),
    ]
    return [project.output(project.alembic(*command)) for command in commands]
