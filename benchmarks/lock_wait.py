"""What a migration waiting for a table lock does to the app's queries.

    eval "$(sudo bash .ci/start-postgresql)"
    python benchmarks/lock_wait.py [--hold 20]

On the real PostgreSQL server named by ALEMBIC_FLASK_ENV_TEST_POSTGRESQL_URL:
one session holds a transaction open on a table for ``--hold`` seconds (a
slow report); an app loop runs a cheap SELECT on that table every 50 ms; a
migration adds a column to it. ``ALTER TABLE`` queues behind the open
transaction, and every later SELECT of the app queues behind the ALTER. The
script reports the app's worst query latency during the migration, without
``table_lock_timeout`` and with ``table_lock_timeout = 2`` (and retries until
the report ends). Target: with the setting, the worst latency stays under
3 s. Exits 1 when it is missed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy import text
from sqlalchemy.engine import make_url

BIN = Path(sys.executable).parent
TARGET_SECONDS = 3.0
APP = """
import os

from flask import Flask
from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()


def create_app():
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["LOCK_WAIT_DATABASE_URI"]
    db.init_app(app)
    return app
"""


def revision(number: int, sql: str) -> str:
    down = repr(f"r{number - 1}") if number > 1 else "None"
    return (
        "from alembic import op\n\n"
        f"revision = 'r{number}'\ndown_revision = {down}\n"
        "branch_labels = None\ndepends_on = None\n\n\n"
        f"def upgrade():\n    op.execute({sql!r})\n\n\n"
        "def downgrade():\n    pass\n"
    )


def one_run(database: str, hold: float, settings: list[str]) -> float:
    """Worst app latency (seconds) while a migration adds a column."""
    engine = create_engine(database)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS report, alembic_version"))
        connection.execute(text("CREATE TABLE report (id integer)"))
        connection.execute(text("INSERT INTO report SELECT generate_series(1, 100)"))
    root = Path(tempfile.mkdtemp())
    try:
        (root / "lockapp.py").write_text(APP)
        env = {**os.environ, "LOCK_WAIT_DATABASE_URI": database}
        env["FLASK_SKIP_DOTENV"] = "1"
        run = [str(BIN / "alembic")]
        subprocess.run(
            [*run, "init", "-t", "flask", "migrations"],
            cwd=root,
            env=env,
            check=True,
            capture_output=True,
        )
        ini = root / "alembic.ini"
        ini.write_text(
            ini.read_text().replace(
                "\nflask_app =\n", "\nflask_app = lockapp:create_app\n"
            )
        )
        (root / "migrations" / "versions" / "r1.py").write_text(
            revision(1, "ALTER TABLE report ADD COLUMN note text")
        )

        latencies: list[float] = []
        stop = threading.Event()

        def app_loop() -> None:
            app_engine = create_engine(database, isolation_level="AUTOCOMMIT")
            with app_engine.connect() as connection:
                while not stop.is_set():
                    started = time.perf_counter()
                    connection.execute(text("SELECT count(*) FROM report")).scalar()
                    latencies.append(time.perf_counter() - started)
                    time.sleep(0.05)
            app_engine.dispose()

        def report() -> None:
            with engine.connect() as connection:
                connection.execute(text("SELECT * FROM report")).all()
                time.sleep(hold)
                connection.rollback()

        threads = [threading.Thread(target=app_loop), threading.Thread(target=report)]
        for thread in threads:
            thread.start()
        time.sleep(0.5)  # the report has its lock
        subprocess.run(
            [*run, *settings, "upgrade", "head"],
            cwd=root,
            env=env,
            check=True,
            capture_output=True,
        )
        stop.set()
        for thread in threads:
            thread.join()
        return max(latencies)
    finally:
        shutil.rmtree(root)
        engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hold", type=float, default=20.0)
    arguments = parser.parse_args()
    server = os.environ.get("ALEMBIC_FLASK_ENV_TEST_POSTGRESQL_URL")
    if not server:
        print("Set ALEMBIC_FLASK_ENV_TEST_POSTGRESQL_URL (.ci/start-postgresql).")
        return 2
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    name = f"lock_wait_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    database = make_url(server).set(database=name).render_as_string(hide_password=False)
    try:
        without = one_run(database, arguments.hold, [])
        retries = str(int(arguments.hold / 2) + 5)
        bounded = one_run(
            database,
            arguments.hold,
            ["-x", "table_lock_timeout=2", "-x", f"table_lock_retries={retries}"],
        )
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()
    print(f"report holds the table for {arguments.hold:g} s; app SELECT every 50 ms")
    print(f"worst app latency without table_lock_timeout: {without:.2f} s")
    print(f"worst app latency with table_lock_timeout = 2: {bounded:.2f} s")
    met = bounded < TARGET_SECONDS
    verdict = "met" if met else "MISSED"
    print(f"target: under {TARGET_SECONDS:g} s with the setting: {verdict}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
