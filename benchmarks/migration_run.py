"""What the environment costs a migration run, against what it replaces.

    python benchmarks/migration_run.py [--revisions 200] [--rounds 7]
    python benchmarks/migration_run.py --instructions [--revisions 200]

One Flask-SQLAlchemy app with Flask-Migrate, and the same generated
revisions (each creates a table), run three ways from an empty SQLite
database:

(a) our ``flask`` template: ``alembic upgrade head``;
(b) a hand-written ``env.py`` of the classic kind (imports the app, sets
    ``sqlalchemy.url``, ``target_metadata = db.metadata``): ``alembic upgrade
    head``;
(c) Flask-Migrate: ``flask db upgrade``;
(d) our template with ``migration_ledger = false``, to measure what the
    ledger costs per revision (target: at most 5 ms).

Then ``current`` each way. The runs are interleaved round by round, so a
change in the machine's load hits all three alike, and the script prints the
median time of each and the median of the per-round ratios (d)/(b) and
(a)/(c). Target: (d)/(b) at most 1.05, since the package's whole job is to
add nothing measurable to what a hand-written env costs (the ledger, which
the classic env.py does not keep, is measured on its own). Exits 1 when the
target is missed. Needs Flask-SQLAlchemy and Flask-Migrate installed beside
this package (``tox -e bench`` installs them).

Wall time on a shared machine moves by more than the 5 % it is held to;
``--instructions`` counts instead the instructions each ``alembic upgrade
head`` executes, under valgrind's callgrind (``apt-get install valgrind``),
once each (the count is the same run after run): the same targets, with
(a)/(b) at most 1.05 too, since the ledger is on by default. Slow: a few
minutes.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

BIN = Path(sys.executable).parent
TARGET = 1.05
LEDGER_TARGET_MS = 5.0
APP_NAME = "benchapp:create_app"
FLASK_DB = ("--app", APP_NAME, "db")

APP = """
import os

from flask import Flask
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()


def create_app():
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "bench.db"
    )
    db.init_app(app)
    Migrate(app, db)
    return app
"""

CLASSIC_ENV = """
import sys
from logging.config import fileConfig
from pathlib import Path

from alembic import context

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchapp import create_app, db  # noqa: E402

config = context.config
fileConfig(config.config_file_name, disable_existing_loggers=False)
app = create_app()
config.set_main_option(
    "sqlalchemy.url",
    app.config["SQLALCHEMY_DATABASE_URI"].replace("%", "%%"),
)
target_metadata = db.metadata


def run_migrations_offline():
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    from sqlalchemy import engine_from_config, pool

    connectable = engine_from_config(
        config.get_section(config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with connectable.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
"""


def revision_source(number: int) -> str:
    down = repr(f"r{number - 1:04d}") if number else "None"
    return textwrap.dedent(
        f"""\
        import sqlalchemy as sa
        from alembic import op

        revision = "r{number:04d}"
        down_revision = {down}
        branch_labels = None
        depends_on = None


        def upgrade():
            op.create_table(
                "t{number:04d}", sa.Column("id", sa.Integer, primary_key=True)
            )


        def downgrade():
            op.drop_table("t{number:04d}")
        """
    )


def run(command: list[str], cwd: Path, env: dict[str, str]) -> None:
    subprocess.run(command, cwd=cwd, env=env, check=True, capture_output=True)


def make_project(root: Path, kind: str, revisions: int, env: dict[str, str]) -> None:
    root.mkdir()
    (root / "benchapp.py").write_text(APP)
    if kind == "flask-migrate":
        run(
            [str(BIN / "flask"), "--app", "benchapp:create_app", "db", "init"],
            root,
            env,
        )
    else:
        ours = kind.startswith("ours")
        template = "flask" if ours else "generic"
        run([str(BIN / "alembic"), "init", "-t", template, "migrations"], root, env)
        ini = root / "alembic.ini"
        text = ini.read_text()
        if ours:
            text = text.replace(
                "\nflask_app =\n", "\nflask_app = benchapp:create_app\n"
            )
            if kind == "ours-no-ledger":
                text = text.replace(
                    "\nflask_app =", "\nmigration_ledger = false\nflask_app =", 1
                )
        else:
            (root / "migrations" / "env.py").write_text(CLASSIC_ENV)
        ini.write_text(text)
    versions = root / "migrations" / "versions"
    for number in range(revisions):
        (versions / f"r{number:04d}.py").write_text(revision_source(number))


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    run(command, cwd, env)
    return time.perf_counter() - started


def instructions(command: list[str], cwd: Path, env: dict[str, str]) -> int:
    """The instructions ``command`` executes, as callgrind counts them.
    One hash seed for every run: with random ones, the same run's count
    moves by some 5 M instructions (dicts and sets grow differently), a
    fifth of what the target allows.
    """
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("--instructions needs valgrind (apt-get install valgrind)")
    result = subprocess.run(
        [
            valgrind,
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            *command,
        ],
        cwd=cwd,
        env={**env, "PYTHONHASHSEED": "0"},
        check=True,
        capture_output=True,
        text=True,
    )
    found = re.search(r"Collected : (\d+)", result.stderr)
    if found is None:
        raise SystemExit(f"callgrind said no count:\n{result.stderr}")
    return int(found.group(1))


def count_instructions(revisions: int, env: dict[str, str]) -> int:
    """``alembic upgrade head`` ours, ours without the ledger and the
    classic env.py, once each under callgrind; exit 1 when ours is more
    than ``TARGET`` times the classic.
    """
    kinds = ("ours", "ours-no-ledger", "classic")
    counts = {}
    with tempfile.TemporaryDirectory() as directory:
        for kind in kinds:
            root = Path(directory) / kind
            make_project(root, kind, revisions, env)
            upgrade = [str(BIN / "alembic"), "upgrade", "head"]
            # Once first, for the bytecode caches; then from empty again.
            run(upgrade, root, env)
            (root / "bench.db").unlink()
            counts[kind] = instructions(upgrade, root, env)
    classic = counts["classic"]
    print(f"{revisions} revisions, alembic upgrade head, instructions (callgrind)")
    for kind in kinds:
        print(f"{kind:>15}: {counts[kind]:>14,}  {counts[kind] / classic:.3f}x classic")
    ledger = (counts["ours"] - counts["ours-no-ledger"]) / revisions
    print(f"the ledger: {ledger:,.0f} instructions per revision")
    missed = counts["ours"] / classic > TARGET
    print(f"target: ours/classic at most {TARGET}: {'MISSED' if missed else 'met'}")
    return 1 if missed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--revisions", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="count instructions under callgrind instead of timing",
    )
    arguments = parser.parse_args()

    # (Without PYTHONDONTWRITEBYTECODE: an installed package has its
    # bytecode cached, and compiling this one's modules on every run would
    # be counted against it alone.)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("FLASK_APP", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE")
    }
    env["FLASK_SKIP_DOTENV"] = "1"
    if arguments.instructions:
        return count_instructions(arguments.revisions, env)
    kinds = {
        "ours": "alembic",
        "ours-no-ledger": "alembic",
        "classic": "alembic",
        "flask-migrate": "flask",
    }
    with tempfile.TemporaryDirectory() as directory:
        roots = {kind: Path(directory) / kind for kind in kinds}
        for kind, root in roots.items():
            make_project(root, kind, arguments.revisions, env)
        commands = {
            "upgrade head": {
                "ours": ["alembic", "upgrade", "head"],
                "ours-no-ledger": ["alembic", "upgrade", "head"],
                "classic": ["alembic", "upgrade", "head"],
                "flask-migrate": [
                    "flask",
                    "--app",
                    "benchapp:create_app",
                    "db",
                    "upgrade",
                ],
            },
            "current": {
                "ours": ["alembic", "current"],
                "ours-no-ledger": ["alembic", "current"],
                "classic": ["alembic", "current"],
                "flask-migrate": [
                    "flask",
                    "--app",
                    "benchapp:create_app",
                    "db",
                    "current",
                ],
            },
        }
        times: dict[str, dict[str, list[float]]] = {
            name: {kind: [] for kind in kinds} for name in commands
        }
        for _ in range(arguments.rounds):
            for kind, root in roots.items():
                (root / "bench.db").unlink(missing_ok=True)
                for name, by_kind in commands.items():
                    command = [str(BIN / by_kind[kind][0]), *by_kind[kind][1:]]
                    times[name][kind].append(timed(command, root, env))
            # Next round, another order: no kind always runs first.
            roots = dict(list(roots.items())[1:] + list(roots.items())[:1])

    missed = False
    print(f"{arguments.revisions} revisions, {arguments.rounds} rounds, median seconds")
    for name, seconds in times.items():
        medians = {kind: statistics.median(values) for kind, values in seconds.items()}
        # The environment against the classic one, both without a ledger
        # (which the classic env.py does not keep); the ledger's cost below.
        ours_vs_classic = statistics.median(
            a / b
            for a, b in zip(seconds["ours-no-ledger"], seconds["classic"], strict=True)
        )
        ours_vs_migrate = statistics.median(
            a / c
            for a, c in zip(seconds["ours"], seconds["flask-migrate"], strict=True)
        )
        print(
            f"{name:>13}: ours {medians['ours']:.3f} (no ledger"
            f" {medians['ours-no-ledger']:.3f})  classic env.py"
            f" {medians['classic']:.3f}  flask db {medians['flask-migrate']:.3f}"
            f"   ours (no ledger)/classic {ours_vs_classic:.3f}  ours/flask db"
            f" {ours_vs_migrate:.3f}"
        )
        missed |= ours_vs_classic > TARGET
    upgrades = times["upgrade head"]
    ledger_ms = statistics.median(
        (a - b) * 1000 / arguments.revisions
        for a, b in zip(upgrades["ours"], upgrades["ours-no-ledger"], strict=True)
    )
    print(
        f"the ledger: {ledger_ms:.2f} ms per revision (target at most"
        f" {LEDGER_TARGET_MS:g} ms)"
    )
    missed |= ledger_ms > LEDGER_TARGET_MS
    verdict = "MISSED" if missed else "met"
    print(f"target: ours (no ledger)/classic at most {TARGET}: {verdict}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
