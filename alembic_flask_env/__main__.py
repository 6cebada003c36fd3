"""``python -m alembic_flask_env convert [DIRECTORY] [--app APP]`` and
``python -m alembic_flask_env lint [--range BASE:HEAD] [--format FORMAT]``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .checks.facts import Facts
from .checks.facts import read_facts
from .checks.lint import FORMATS
from .checks.lint import lint
from .checks.lint import render
from .checks.lint import revisions_in
from .checks.pending import CHECKED_DIALECTS
from .convert.folder import convert
from .errors import ConversionError

if TYPE_CHECKING:
    from alembic.config import Config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m alembic_flask_env")
    commands = parser.add_subparsers(dest="command", required=True)
    converting = commands.add_parser(
        "convert",
        help="convert a 'flask db init' folder to plain alembic",
        description="Replace env.py (and for several databases"
        " script.py.mako) with alembic_flask_env's, keeping the old files"
        " beside them, and move alembic.ini next to the folder; revisions and"
        " the database are not touched. Safe to run twice.",
    )
    converting.add_argument(
        "directory",
        nargs="?",
        default="migrations",
        type=Path,
        help="the migrations folder (default: migrations)",
    )
    converting.add_argument(
        "--app", default="", help="flask_app to write, e.g. yourpackage:create_app"
    )
    linting = commands.add_parser(
        "lint",
        help="check revisions for what they would do to a live app",
        description="Hold revisions to the safe-migration rules without"
        " running them. Exit 0 when clean, 1 with findings, 2 for bad usage.",
    )
    linting.add_argument("-c", "--config", default="alembic.ini", type=Path)
    linting.add_argument(
        "--range", dest="revision_range", help="BASE:HEAD (default: every revision)"
    )
    linting.add_argument("--format", choices=FORMATS, default="text")
    linting.add_argument(
        "--dialect",
        choices=CHECKED_DIALECTS,
        default="postgresql",
        help="the database the rules are for, offline (default: postgresql)",
    )
    linting.add_argument(
        "--database",
        action="store_true",
        help="read the facts (server version, tables, rows) from the app's"
        " database, read-only",
    )
    arguments = parser.parse_args(argv)
    if arguments.command == "lint":
        return _lint(arguments)
    return _convert(arguments)


def _lint(arguments: argparse.Namespace) -> int:
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    if not arguments.config.is_file():
        print(f"FAILED: {arguments.config} is not a file; pass -c.", file=sys.stderr)
        return 2
    config = Config(str(arguments.config))
    try:
        script = ScriptDirectory.from_config(config)
        revisions = revisions_in(script, arguments.revision_range)
        facts = (
            _database_facts(config) if arguments.database else Facts(arguments.dialect)
        )
        findings = lint(revisions, facts)
    except CommandError as error:
        print(f"FAILED: {error}", file=sys.stderr)
        return 2
    print(render(findings, arguments.format))
    return 1 if findings else 0


def _database_facts(config: Config) -> Facts:
    """The facts of the app's default database, read in one short
    read-only transaction.
    """
    from .app.context import app_in_context
    from .app.database import default_database
    from .settings import METADATA_KEY
    from .settings import find_setting

    with (
        app_in_context(config, {}) as in_use,
        default_database(in_use, find_setting(config, {}, METADATA_KEY)) as database,
        database.engine.connect() as connection,
    ):
        facts = read_facts(connection)
        connection.rollback()
    return facts


def _convert(arguments: argparse.Namespace) -> int:
    try:
        result = convert(arguments.directory, arguments.app)
    except ConversionError as error:
        print(f"FAILED: {error}", file=sys.stderr)
        return 1
    if not result.written:
        print(f"{arguments.directory} is converted already; nothing to do.")
        return 0
    for path in result.written:
        print(f"wrote {path}")
    for line in result.replaced:
        print(
            f"replaced '{line}' of the old alembic.ini: Flask-Migrate ignored it"
            " (it always uses the migrations folder)"
        )
    for path in result.removed:
        print(f"removed {path}")
    for path in result.backups:
        print(f"kept the old file as {path}: carry over what you changed in it")
    for option in result.dropped:
        print(option.advice())
    if arguments.app:
        print(
            f"Now run 'alembic current' in {result.ini.parent} (or 'alembic -c"
            f" {result.ini} current' from anywhere) to check: it reports what"
            " 'flask db current' did."
        )
        return 0
    print(f"Set flask_app in {result.ini}, or keep FLASK_APP set.")
    print(
        f"Now run 'alembic current' in {result.ini.parent} to check: it reports"
        " what 'flask db current' did. Until flask_app is set, the app comes"
        " from FLASK_APP, which a .flaskenv or .env is read for from the"
        " working directory upwards: 'alembic -c ... current' from elsewhere"
        " finds it only where FLASK_APP is set."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
