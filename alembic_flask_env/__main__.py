"""``python -m alembic_flask_env convert [DIRECTORY] [--app APP]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .convert.folder import convert
from .errors import ConversionError


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
    arguments = parser.parse_args(argv)

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
