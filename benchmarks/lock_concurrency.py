"""Parallel deploys under the deploy lock: failures, duplicates, wall time.

    eval "$(sudo bash .ci/start-postgresql)"; eval "$(sudo bash .ci/start-mariadb)"
    eval "$(sudo bash .ci/start-pgbouncer)"
    python benchmarks/lock_concurrency.py [--processes 8 32] [--servers postgresql]

For each server (PostgreSQL direct, PgBouncer in transaction mode, MariaDB:
the URLs of the .ci/start-* scripts), each transaction mode and each number
of processes, a fresh database gets three revisions: d1 makes a log table and
pauses, d2 builds an index on it the online way inside ``autocommit_block()``
(the real ``CREATE INDEX CONCURRENTLY`` on PostgreSQL, ``ALGORITHM=INPLACE
LOCK=NONE`` on MariaDB) and logs itself, d3 logs itself. That many ``alembic
upgrade head`` processes start at once. A row reports how many exited
non-zero (or hung: still running after 300 s), how many revision log rows are
duplicates (a revision that ran twice), and the wall time.
``--without-lock`` adds the same runs with ``migration_lock = false``, the
baseline that shows the race. Target: 0
failures and 0 duplicates with the lock; exits 1 when it is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy import text
from sqlalchemy.engine import make_url

BIN = Path(sys.executable).parent
SERVERS = {
    "postgresql": "ALEMBIC_FLASK_ENV_TEST_POSTGRESQL_URL",
    "pgbouncer": "ALEMBIC_FLASK_ENV_TEST_PGBOUNCER_URL",
    "mariadb": "ALEMBIC_FLASK_ENV_TEST_MARIADB_URL",
}
APP = """
import json
import os

from flask import Flask
from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()


def create_app():
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["DEPLOY_DATABASE_URI"]
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = json.loads(
        os.environ.get("DEPLOY_ENGINE_OPTIONS", "{}")
    )
    db.init_app(app)
    return app
"""


def revision(name: str, down: str | None, body: str) -> str:
    return (
        "from alembic import op\n\n"
        f"revision = {name!r}\ndown_revision = {down!r}\n"
        "branch_labels = None\ndepends_on = None\n\n\n"
        f"def upgrade():\n{body}\n\n\n"
        "def downgrade():\n    pass\n"
    )


def revisions(server: str) -> dict[str, str]:
    pause = "SELECT SLEEP(1)" if server == "mariadb" else "SELECT pg_sleep(1)"
    index = (
        "CREATE INDEX ix_log ON deploy_log (revision) ALGORITHM=INPLACE LOCK=NONE"
        if server == "mariadb"
        else "CREATE INDEX CONCURRENTLY ix_log ON deploy_log (revision)"
    )
    log = "    op.execute(\"INSERT INTO deploy_log VALUES ('{}')\")"
    return {
        "d1": revision(
            "d1",
            None,
            '    op.execute("CREATE TABLE deploy_log (revision varchar(10))")\n'
            f'    op.execute("{pause}")\n' + log.format("d1"),
        ),
        "d2": revision(
            "d2",
            "d1",
            "    with op.get_context().autocommit_block():\n"
            f'        op.execute("{index}")\n    ' + log.format("d2"),
        ),
        "d3": revision("d3", "d2", log.format("d3")),
    }


class Database:
    """A fresh database on the server of ``url``, dropped afterwards."""

    def __init__(self, server: str, url: str, direct_url: str) -> None:
        self.server = server
        self.name = f"bench_{uuid.uuid4().hex[:12]}"
        self.admin = create_engine(direct_url, isolation_level="AUTOCOMMIT")
        quoted = f"`{self.name}`" if server == "mariadb" else f'"{self.name}"'
        self.quoted = quoted
        with self.admin.connect() as connection:
            connection.execute(text(f"CREATE DATABASE {quoted}"))
        self.url = make_url(url).set(database=self.name)
        self.direct = make_url(direct_url).set(database=self.name)

    def log_rows(self) -> list[str]:
        engine = create_engine(self.direct)
        try:
            with engine.connect() as connection:
                rows = connection.execute(text("SELECT revision FROM deploy_log"))
                return [str(row[0]) for row in rows]
        finally:
            engine.dispose()

    def drop(self) -> None:
        force = "" if self.server == "mariadb" else " WITH (FORCE)"
        with self.admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE {self.quoted}{force}"))
        self.admin.dispose()


def one_run(
    server: str,
    url: str,
    direct_url: str,
    processes: int,
    per_migration: bool,
    lock: bool,
) -> dict[str, object]:
    database = Database(server, url, direct_url)
    root = Path(tempfile.mkdtemp())
    try:
        (root / "deployapp.py").write_text(APP)
        env = {**os.environ, "FLASK_SKIP_DOTENV": "1"}
        env["DEPLOY_DATABASE_URI"] = database.url.render_as_string(hide_password=False)
        if server == "pgbouncer":
            env["DEPLOY_ENGINE_OPTIONS"] = json.dumps(
                {"connect_args": {"prepare_threshold": None}}
            )
        alembic = str(BIN / "alembic")
        subprocess.run(
            [alembic, "init", "-t", "flask", "migrations"],
            cwd=root,
            env=env,
            check=True,
            capture_output=True,
        )
        ini = root / "alembic.ini"
        ini.write_text(
            ini.read_text().replace("flask_app =", "flask_app = deployapp:create_app")
        )
        if per_migration:
            (root / "migrations" / "env.py").write_text(
                "from alembic_flask_env import run_migrations\n\n"
                "run_migrations(transaction_per_migration=True)\n"
            )
        for name, source in revisions(server).items():
            (root / "migrations" / "versions" / f"{name}.py").write_text(source)
        command = [alembic, "-x", f"migration_lock={str(lock).lower()}"]
        command += ["-x", "migration_lock_timeout=120", "upgrade", "head"]
        started = time.perf_counter()
        running = [
            subprocess.Popen(
                command,
                cwd=root,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(processes)
        ]
        codes = [_exit_code(process, started + 300) for process in running]
        wall = time.perf_counter() - started
        rows = database.log_rows()
        return {
            "server": server,
            "mode": "per revision" if per_migration else "one transaction",
            "lock": lock,
            "processes": processes,
            "failures": sum(1 for code in codes if code),
            "duplicates": len(rows) - len(set(rows)),
            "wall_s": round(wall, 1),
        }
    finally:
        shutil.rmtree(root, ignore_errors=True)
        database.drop()


def _exit_code(process: subprocess.Popen[bytes], deadline: float) -> int:
    """The process's exit code; one still running at ``deadline`` hung, and
    is killed and counted as a failure.
    """
    try:
        return process.wait(timeout=max(deadline - time.perf_counter(), 0.1))
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return -1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, nargs="+", default=[8, 16, 32])
    parser.add_argument("--servers", nargs="+", default=list(SERVERS))
    parser.add_argument("--without-lock", action="store_true")
    arguments = parser.parse_args()
    direct = os.environ.get(SERVERS["postgresql"], "")
    rows = []
    for server in arguments.servers:
        url = os.environ.get(SERVERS[server])
        if not url:
            print(f"skipping {server}: {SERVERS[server]} is not set", file=sys.stderr)
            continue
        server_direct = direct if server == "pgbouncer" else url
        for per_migration in (False, True):
            for processes in arguments.processes:
                for lock in (True, False) if arguments.without_lock else (True,):
                    row = one_run(
                        server, url, server_direct, processes, per_migration, lock
                    )
                    print(json.dumps(row), file=sys.stderr)
                    rows.append(row)
    print("| server | mode | lock | processes | failures | duplicates | wall (s) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        print(
            f"| {row['server']} | {row['mode']} | {'on' if row['lock'] else 'off'}"
            f" | {row['processes']} | {row['failures']} | {row['duplicates']}"
            f" | {row['wall_s']} |"
        )
    missed = [r for r in rows if r["lock"] and (r["failures"] or r["duplicates"])]
    return 1 if missed or not rows else 0


if __name__ == "__main__":
    sys.exit(main())
