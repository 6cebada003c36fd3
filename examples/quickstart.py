"""Set up and run the example end to end, as a new user would.

    python examples/quickstart.py

Creates a virtual environment in .quickstart/venv, installs this package and
Flask-SQLAlchemy into it, copies examples/blog to .quickstart/blog, and runs:

    alembic init -t flask migrations
    (sets flask_app = blogapp:create_app in alembic.ini)
    alembic revision --autogenerate -m "create tables"
    alembic upgrade head
    alembic current

then prints the tables of the SQLite database it created. Run it again to
start over. Needs only Python 3.10+ and pip.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sqlite3
import subprocess
import sys
import venv
from contextlib import closing
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "blog"
FLASK_APP = "blogapp:create_app"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--workdir", type=Path, default=REPO / ".quickstart", help="where to work"
    )
    parser.add_argument(
        "--use-current-environment",
        action="store_true",
        help="use this Python's environment instead of creating a venv"
        " (it must already have alembic-flask-env and Flask-SQLAlchemy)",
    )
    args = parser.parse_args()

    workdir: Path = args.workdir.resolve()
    if args.use_current_environment:
        bin_dir = Path(sys.executable).parent
    else:
        bin_dir = create_environment(workdir / "venv")
    project = workdir / "blog"
    shutil.rmtree(project, ignore_errors=True)
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("__pycache__"))
    run_example(project, bin_dir)


def create_environment(path: Path) -> Path:
    print(f"Creating a virtual environment in {path}")
    venv.create(path, with_pip=True, clear=True)
    bin_dir = path / ("Scripts" if os.name == "nt" else "bin")
    run(
        [
            str(bin_dir / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            str(REPO),
            "flask-sqlalchemy",
        ],
        cwd=REPO,
    )
    return bin_dir


def run_example(project: Path, bin_dir: Path) -> None:
    alembic = str(bin_dir / "alembic")
    run([alembic, "init", "-t", "flask", "migrations"], cwd=project)

    ini = project / "alembic.ini"
    print(f"\n# editing {ini}: flask_app = {FLASK_APP}")
    text = ini.read_text()
    ini.write_text(text.replace("\nflask_app =\n", f"\nflask_app = {FLASK_APP}\n", 1))

    run([alembic, "revision", "--autogenerate", "-m", "create tables"], cwd=project)
    run([alembic, "upgrade", "head"], cwd=project)
    run([alembic, "current"], cwd=project)

    database = project / "instance" / "blog-development.db"
    with closing(sqlite3.connect(database)) as connection:
        tables = [
            row[0]
            for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            )
        ]
    print(f"\nTables in {database}:")
    for table in tables:
        print(f"  {table}")


def run(command: list[str], cwd: Path) -> None:
    shown = [Path(command[0]).name, *command[1:]]
    print(f"\n$ {shlex.join(shown)}", flush=True)
    subprocess.run(command, cwd=cwd, check=True)


if __name__ == "__main__":
    main()
