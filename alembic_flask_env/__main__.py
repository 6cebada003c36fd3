"""``python -m alembic_flask_env convert [DIRECTORY] [--app APP]`` and
``python -m alembic_flask_env lint [--range BASE:HEAD] [--format FORMAT]``.
"""

from __future__ import annotations

import argparse
import sys
from contextlib import ExitStack
from contextlib import redirect_stdout
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

from .checks import CHECKED_DIALECTS
from .checks.facts import Facts
from .checks.facts import read_facts
from .checks.lint import EXIT_UNLOADABLE
from .checks.lint import FORMATS
from .checks.lint import lint
from .checks.lint import render
from .checks.lint import revisions_in
from .convert.folder import convert
from .errors import ConversionError
from .ledger.reading import FORMATS as LEDGER_FORMATS

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.engine import Engine

    from .runtime.connection import ConnectTimeout
    from .settings import Setting


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
        " running them. Exit 0 when clean, 1 with findings, 2 for bad usage,"
        " 3 when a revision could not be loaded (the rest is still linted).",
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
    reading = commands.add_parser(
        "ledger",
        help="the last migration runs of the app's database, newest first",
        description="The last runs recorded in the ledger of each of the app's"
        " databases (binds, tenants), newest first, read-only. Exit 0; 1 when a"
        " database or its ledger could not be read (the others are listed);"
        " 2 for bad usage or settings.",
    )
    reading.add_argument("-c", "--config", default="alembic.ini", type=Path)
    reading.add_argument("-n", type=int, default=10, help="how many runs (10)")
    reading.add_argument("--format", choices=LEDGER_FORMATS, default="text")
    reading.add_argument(
        "--version-table",
        default="",
        help="list the runs of the app with this version table, when env.py"
        " sets run_migrations(version_table=...) (default: Migrate()'s, else"
        " alembic_version)",
    )
    for name, summary in (
        ("status", "the expanded revisions awaiting their contract, with progress"),
        ("contract", "complete every expanded revision (the old release is gone)"),
        ("abort", "undo the last expand, leaving the database as before it"),
    ):
        expanding = commands.add_parser(name, help=summary, description=summary)
        expanding.add_argument("-c", "--config", default="alembic.ini", type=Path)
        expanding.add_argument(
            "-x", action="append", default=[], help="KEY=VALUE, as alembic -x"
        )
    arguments = parser.parse_args(argv)
    if arguments.command in ("status", "contract", "abort"):
        from .runtime.expand_commands import run_expand_command

        return run_expand_command(arguments.command, arguments.config, arguments.x)
    if arguments.command == "lint":
        return _lint(arguments)
    if arguments.command == "ledger":
        return _ledger(arguments)
    return _convert(arguments)


def _ledger(arguments: argparse.Namespace) -> int:
    """Each database of the app (its binds, or its tenants), read-only.
    Exit 0; 1 when a database (or its ledger) could not be read, after
    printing those that could; 2 for bad usage or settings.
    """
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    from .app.context import app_in_context
    from .app.database import DEFAULT_BIND
    from .app.database import bind_order
    from .app.database import default_database
    from .app.database import find_extension
    from .app.flask_migrate import migrate_configure_args
    from .ledger.reading import render as render_runs
    from .ledger.settings import read_ledger_settings
    from .runtime.connection import read_connect_timeout
    from .settings import METADATA_KEY
    from .settings import TENANTS_KEY
    from .settings import find_setting

    if not arguments.config.is_file():
        print(f"FAILED: {arguments.config} is not a file; pass -c.", file=sys.stderr)
        return 2
    if arguments.n < 1:
        print(
            f"FAILED: -n {arguments.n}: the number of runs to list must be at"
            " least 1 (the default is 10).",
            file=sys.stderr,
        )
        return 2
    config = Config(str(arguments.config))
    failures: list[str] = []
    try:
        ScriptDirectory.from_config(config)  # (puts prepend_sys_path in place)
        settings = read_ledger_settings(config, {})
        timeout = read_connect_timeout(config, {})
        with ExitStack() as stack:
            in_use = stack.enter_context(app_in_context(config, {}))
            reader = _LedgerReader(
                settings.table,
                arguments.version_table
                or migrate_configure_args(in_use.app).get("version_table")
                or "alembic_version",
                arguments.n,
                timeout,
                failures,
            )
            tenants = find_setting(config, {}, TENANTS_KEY)
            if tenants is not None:
                metadata = find_setting(config, {}, METADATA_KEY)
                database = stack.enter_context(default_database(in_use, metadata))
                outputs = _tenants_ledgers(
                    config, tenants, database.engine, reader, arguments
                )
            else:
                extension = find_extension(in_use.app, in_use.setting)
                engines = dict(extension.engines) if extension is not None else {}
                if not engines:  # plain SQLAlchemy: SQLALCHEMY_DATABASE_URI
                    metadata = find_setting(config, {}, METADATA_KEY)
                    database = stack.enter_context(default_database(in_use, metadata))
                    engines = {None: database.engine}
                several = len(engines) > 1
                outputs = []
                for key, engine in sorted(engines.items(), key=bind_order):
                    where = f" (bind {key or DEFAULT_BIND!r})" if several else ""
                    whose = f"the database of Flask app {in_use.app.name!r}{where}"
                    runs = reader.runs(engine, None, whose)
                    if runs is not None:
                        outputs.append(render_runs(runs, arguments.format, where))
    except CommandError as error:
        print(f"FAILED: {error}", file=sys.stderr)
        return 2
    if outputs:
        print("\n\n".join(outputs))
    for failure in failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0


class _LedgerReader:
    """Reads one database's ledger; a database that cannot be reached or
    read is one line in ``failures``, and the others are still listed.
    """

    def __init__(
        self,
        table: str,
        version_table: str,
        count: int,
        timeout: ConnectTimeout,
        failures: list[str],
    ) -> None:
        self.table = table
        self.version_table = version_table
        self.count = count
        self.timeout = timeout
        self.failures = failures

    def runs(
        self, engine: Engine, schema: str | None, whose: str
    ) -> list[dict[str, Any]] | None:
        """The runs; None when they could not be read (said in failures)."""
        from .errors import DatabaseUnreachable
        from .ledger.reading import LedgerUnreadable
        from .ledger.reading import last_runs
        from .runtime.connection import connected

        try:
            with connected(engine, whose, self.timeout) as connection:
                return last_runs(
                    connection, self.table, schema, self.count, self.version_table
                )
        except DatabaseUnreachable as error:
            self.failures.append(str(error))
        except LedgerUnreadable as error:
            self.failures.append(f"{whose}: {error}")
        return None


def _tenants_ledgers(
    config: Config,
    tenants: Setting,
    app_engine: Engine,
    reader: _LedgerReader,
    arguments: argparse.Namespace,
) -> list[str]:
    """Each tenant's ledger (those the ``tenants`` key names, or all), in
    its schema of the app's database or in its own database.
    """
    import json

    from .ledger.reading import render as render_runs
    from .settings import TENANT_SELECTION_KEY
    from .settings import find_setting
    from .tenants.selection import select_tenants
    from .tenants.source import list_tenants
    from .tenants.source import own_database

    chosen = select_tenants(
        list_tenants(tenants), find_setting(config, {}, TENANT_SELECTION_KEY), None
    )
    outputs = []
    every: dict[str, object] = {}
    for tenant in chosen:
        with own_database(tenant) as engine:
            runs = reader.runs(
                engine or app_engine, tenant.schema, f"tenant {tenant.name!r}"
            )
        if runs is None:
            continue
        every[tenant.name] = runs
        outputs.append(
            render_runs(runs, arguments.format, f" (tenant {tenant.name!r})")
        )
    if arguments.format == "json":
        # One document, the runs by tenant, for a script to read.
        return [json.dumps(every, indent=2)]
    if not chosen:
        return [f"{tenants.describe()} listed no tenant."]
    return outputs


def _lint(arguments: argparse.Namespace) -> int:
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from alembic.script.revision import RevisionError
    from alembic.util import CommandError

    from .checks.loading import as_run_loads
    from .checks.loading import tolerant
    from .checks.stand_in import answering_for

    if not arguments.config.is_file():
        print(f"FAILED: {arguments.config} is not a file; pass -c.", file=sys.stderr)
        return 2
    config = Config(str(arguments.config))
    try:
        # stdout is the report: what the app and the revisions print while
        # they are loaded and recorded goes to stderr.
        with redirect_stdout(sys.stderr):
            script = ScriptDirectory.from_config(config)
            unloadable = tolerant(script)
            with as_run_loads(config, script), ExitStack() as stack:
                revisions = revisions_in(script, arguments.revision_range)
                facts = Facts(arguments.dialect)
                awaiting: list[str] = []
                if arguments.database:
                    facts, engine = _database_facts(config)
                    # op.get_bind() answers as this database would.
                    stack.enter_context(answering_for(engine))
                    awaiting = _awaiting_contract(config, engine)
                findings = lint(revisions, facts)
    except (CommandError, RevisionError) as error:
        print(f"FAILED: {error}", file=sys.stderr)
        return 2
    linted = {revision.path for revision in revisions}
    unloaded = [u for u in unloadable if u.path in linted or not u.revision]
    for revision in unloaded:
        print(revision.line(), file=sys.stderr)
    print(render(findings, arguments.format))
    for line in awaiting:
        print(line, file=sys.stdout if arguments.format == "text" else sys.stderr)
    if unloaded:
        return EXIT_UNLOADABLE
    return 1 if findings else 0


def _awaiting_contract(config: Config, engine: Engine) -> list[str]:
    """A line per revision expanded and not contracted (issue 25)."""
    from .runtime.expand_commands import awaiting_contract

    return awaiting_contract(config, engine)


def _database_facts(config: Config) -> tuple[Facts, Engine]:
    """The facts of the app's default database, read in one short
    read-only transaction, and its engine (for what a revision asks of its
    connection: nothing more is sent to it).
    """
    from .app.context import app_in_context
    from .app.database import default_database
    from .errors import InvalidSetting
    from .runtime.connection import connected
    from .runtime.connection import read_connect_timeout
    from .settings import METADATA_KEY
    from .settings import find_setting

    with (
        app_in_context(config, {}) as in_use,
        default_database(in_use, find_setting(config, {}, METADATA_KEY)) as database,
    ):
        dialect = database.engine.dialect.name
        if dialect not in CHECKED_DIALECTS:
            raise InvalidSetting(
                f"lint --database: the app's database is {dialect}, and the rules"
                f" are for {', '.join(CHECKED_DIALECTS)}. Lint without --database"
                " (and with --dialect), or point the app at such a database."
            )
        whose = f"the database of Flask app {in_use.app.name!r}"
        with connected(
            database.engine, whose, read_connect_timeout(config, {})
        ) as connection:
            facts = read_facts(connection)
            connection.rollback()
    return facts, database.engine


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
    for code in result.not_carried:
        print(code.advice())
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
