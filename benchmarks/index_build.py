"""What an index build does to a live app: the unsafe revision against the
form autogenerate writes.

    eval "$(sudo bash .ci/start-postgresql)"
    python benchmarks/index_build.py [--rows 1000000]

On the real PostgreSQL server named by ALEMBIC_FLASK_ENV_TEST_POSTGRESQL_URL:
a table of ``--rows`` rows; an app inserts a row every 10 ms; a migration
adds an index on it, once as a plain ``op.create_index`` (run with
``migration_checks = off``, since the checks refuse it) and once as the safe
form autogenerate writes (``postgresql_concurrently=True`` inside
``autocommit_block()``). Reports each run's worst insert latency, its
errors and the build time. Target: the safe form's worst insert under
100 ms with 0 errors. Exits 1 when it is missed.
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
TARGET_SECONDS = 0.1
APP = """
import os

from flask import Flask
from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()


def create_app():
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["INDEX_BUILD_DATABASE_URI"]
    db.init_app(app)
    return app
"""
UNSAFE = 'op.create_index("ix_orders_total", "orders", ["total"])'
SAFE = (
    "with op.get_context().autocommit_block():\n"
    '        op.create_index("ix_orders_total", "orders", ["total"],'
    " postgresql_concurrently=True)"
)


def revision(body: str) -> str:
    return (
        "from alembic import op\n\n"
        "revision = 'i1'\ndown_revision = None\n"
        "branch_labels = None\ndepends_on = None\n\n\n"
        f"def upgrade():\n    {body}\n\n\n"
        "def downgrade():\n    pass\n"
    )


def one_run(
    database: str, rows: int, body: str, settings: list[str]
) -> dict[str, float]:
    engine = create_engine(database)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS orders, alembic_version"))
        connection.execute(text("CREATE TABLE orders (id bigserial, total integer)"))
        connection.execute(
            text(
                "INSERT INTO orders (total) SELECT (random() * 1000000)::int"
                " FROM generate_series(1, :rows)"
            ),
            {"rows": rows},
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text("ANALYZE orders"))
    root = Path(tempfile.mkdtemp())
    try:
        (root / "indexapp.py").write_text(APP)
        env = {**os.environ, "INDEX_BUILD_DATABASE_URI": database}
        env["FLASK_SKIP_DOTENV"] = "1"
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
            ini.read_text().replace(
                "\nflask_app =\n", "\nflask_app = indexapp:create_app\n"
            )
        )
        (root / "migrations" / "versions" / "i1.py").write_text(revision(body))
        latencies: list[float] = []
        errors: list[str] = []
        stop = threading.Event()

        def writer() -> None:
            app_engine = create_engine(database, isolation_level="AUTOCOMMIT")
            with app_engine.connect() as connection:
                while not stop.is_set():
                    started = time.perf_counter()
                    try:
                        connection.execute(
                            text("INSERT INTO orders (total) VALUES (1)")
                        )
                    except Exception as error:
                        errors.append(str(error).splitlines()[0])
                    latencies.append(time.perf_counter() - started)
                    time.sleep(0.01)
            app_engine.dispose()

        thread = threading.Thread(target=writer)
        thread.start()
        time.sleep(0.5)
        started = time.perf_counter()
        subprocess.run(
            [alembic, *settings, "upgrade", "head"],
            cwd=root,
            env=env,
            check=True,
            capture_output=True,
        )
        build = time.perf_counter() - started
        time.sleep(0.2)
        stop.set()
        thread.join()
        return {"worst": max(latencies), "errors": len(errors), "build": build}
    finally:
        shutil.rmtree(root)
        engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    arguments = parser.parse_args()
    server = os.environ.get("ALEMBIC_FLASK_ENV_TEST_POSTGRESQL_URL")
    if not server:
        print("Set ALEMBIC_FLASK_ENV_TEST_POSTGRESQL_URL (.ci/start-postgresql).")
        return 2
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    name = f"index_build_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    database = make_url(server).set(database=name).render_as_string(hide_password=False)
    try:
        unsafe = one_run(
            database, arguments.rows, UNSAFE, ["-x", "migration_checks=off"]
        )
        safe = one_run(database, arguments.rows, SAFE, [])
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()
    print(f"{arguments.rows:,} rows; the app inserts a row every 10 ms")
    print("| revision | worst insert | errors | migration run |")
    print("| --- | --- | --- | --- |")
    for label, run in (
        ("plain create_index", unsafe),
        ("autogenerated safe form", safe),
    ):
        print(
            f"| {label} | {run['worst'] * 1000:.0f} ms | {run['errors']:.0f}"
            f" | {run['build']:.2f} s |"
        )
    met = safe["worst"] < TARGET_SECONDS and safe["errors"] == 0
    print(
        f"target: safe form under {TARGET_SECONDS * 1000:.0f} ms, 0 errors:"
        f" {'met' if met else 'MISSED'}"
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
