"""``python -m alembic_flask_env status|contract|abort``.

Each works on the app's default database, as ``alembic`` would find it
(``-c``, ``-x`` as the other commands); ``contract`` and ``abort`` take the
deploy lock (so they never run beside an ``alembic upgrade``) and change
the database in one transaction, their lock waits bounded by
``table_lock_timeout``. ``status`` only reads, without the lock, so that it
shows a backfill's progress while the upgrade runs.

(In ``runtime``, not ``expand``: it takes the deploy lock and opens the
connection as a run does, and ``runtime`` is the room above ``expand``.)
"""

from __future__ import annotations

import sys
import time
from contextlib import ExitStack
from typing import TYPE_CHECKING

from sqlalchemy import text

from ..errors import ExpandContractRefused
from ..errors import TableLockTimeout
from ..expand.ledger import phase_ledger
from ..expand.naming import version_schema_name
from ..expand.sql import abort_statements
from ..expand.sql import contract_statements
from ..expand.sql import needs_backfill
from ..expand.state import Pending
from ..expand.state import pending

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from alembic.config import Config
    from sqlalchemy.engine import Connection
    from sqlalchemy.engine import Engine

    from ..ledger.recorder import LedgerRecorder
    from .table_locks import TableLockSettings

COMMANDS = ("status", "contract", "abort")


def run_expand_command(command: str, config_path: Path, x: list[str]) -> int:
    """Exit 0 when done (or nothing to do), 1 when refused or failed, 2 for
    bad usage; a refusal or failure is one ``FAILED:`` line on stderr.
    """
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    from ..app.context import app_in_context
    from ..app.database import default_database
    from ..app.flask_migrate import migrate_configure_args
    from ..settings import METADATA_KEY
    from ..settings import TENANTS_KEY
    from ..settings import find_setting
    from ..settings import read_x_arguments
    from .connection import connected
    from .connection import read_connect_timeout
    from .lock import migration_lock
    from .lock.settings import read_lock_settings
    from .table_locks import read_table_lock_settings

    if not config_path.is_file():
        print(f"FAILED: {config_path} is not a file; pass -c.", file=sys.stderr)
        return 2
    config = Config(str(config_path))
    try:
        ScriptDirectory.from_config(config)  # (puts prepend_sys_path in place)
        x_arguments = read_x_arguments(x)
        timeout = read_connect_timeout(config, x_arguments)
        lock = read_lock_settings(config, x_arguments)
        table_locks = read_table_lock_settings(config, x_arguments)
        if find_setting(config, x_arguments, TENANTS_KEY) is not None:
            raise ExpandContractRefused(
                f"{command}: this app migrates the tenants of flask_tenants, and"
                " expand/contract works on one PostgreSQL database for now."
            )
        with ExitStack() as stack:
            in_use = stack.enter_context(app_in_context(config, x_arguments))
            database = stack.enter_context(
                default_database(
                    in_use, find_setting(config, x_arguments, METADATA_KEY)
                )
            )
            engine = database.engine
            if engine.dialect.name != "postgresql":
                raise ExpandContractRefused(
                    f"{command}: the app's database is {engine.dialect.name}, and"
                    " expand/contract works on PostgreSQL only, for now."
                )
            arguments = migrate_configure_args(in_use.app)
            version_table = arguments.get("version_table") or "alembic_version"
            schema = arguments.get("version_table_schema") or None
            whose = f"the database of Flask app {in_use.app.name!r}"
            stack.enter_context(
                migration_lock(
                    engine,
                    lock if command != "status" else None,
                    version_table,
                    schema,
                    connect_timeout=timeout,
                    whose=whose,
                )
            )
            connection = stack.enter_context(connected(engine, whose, timeout))
            if command == "status":
                lines = status(connection, schema)
                connection.rollback()
            else:
                ledger = phase_ledger(
                    config,
                    x_arguments,
                    connection,
                    schema,
                    version_table,
                    in_use.app.name,
                    command,
                )

                def change() -> list[str]:
                    if command == "contract":
                        return contract(connection, schema, ledger)
                    return abort(connection, schema, version_table, ledger)

                lines = _in_one_transaction(connection, command, table_locks, change)
    except CommandError as error:
        print(f"FAILED: {error}", file=sys.stderr)
        return 1
    for line in lines:
        print(line)
    return 0


def _in_one_transaction(
    connection: Connection,
    command: str,
    table_locks: TableLockSettings,
    change: Callable[[], list[str]],
) -> list[str]:
    """``change()`` in one transaction, each lock wait bounded by
    ``table_lock_timeout``: a wait given up rolls it all back, and it runs
    again after a pause as often as ``table_lock_retries`` allows, so the
    app's requests never queue long behind a contract waiting for its lock.

    :raises TableLockTimeout: the last attempt gave up too.
    """
    from sqlalchemy.exc import DBAPIError

    from .table_locks import is_lock_wait_timeout
    from .table_locks import table_of

    attempts = table_locks.retries + 1
    for attempt in range(1, attempts + 1):
        try:
            with connection.begin():
                if table_locks.timeout is not None:
                    milliseconds = max(1, round(table_locks.timeout * 1000))
                    connection.execute(text(f"SET LOCAL lock_timeout = {milliseconds}"))
                return change()
        except DBAPIError as error:
            if table_locks.timeout is None or not is_lock_wait_timeout(error):
                raise
            if attempt < attempts:
                print(
                    f"{command}: waited more than {table_locks.timeout:g} s for a"
                    f" lock on table {table_of(error)}; trying again in"
                    f" {table_locks.timeout:g} s (attempt {attempt + 1} of"
                    f" {attempts}).",
                    file=sys.stderr,
                )
                time.sleep(table_locks.timeout)
                continue
            raise TableLockTimeout(
                f"{command} waited more than {table_locks.timeout:g} s for a lock"
                f" on table {table_of(error)}, {attempts} time(s)"
                f" (table_lock_timeout, table_lock_retries); nothing was changed."
                " A transaction of the app holds the table: run it again when it"
                " is done, or allow more with -x table_lock_retries=N."
            ) from None
    raise AssertionError("unreachable")  # pragma: no cover


def awaiting_contract(config: Config, engine: Engine) -> list[str]:
    """For ``lint --database``: a line per expanded, not contracted
    revision of the app's PostgreSQL database (none elsewhere), read-only.
    """
    from .connection import connected
    from .connection import read_connect_timeout

    if engine.dialect.name != "postgresql":
        return []
    with connected(engine, "the app's database", read_connect_timeout(config, {})) as (
        connection
    ):
        rows = pending(connection, None)
        connection.rollback()
    return [
        f"Revision {row.revision} is expanded and awaits its contract (phase"
        f" {row.phase}): run 'python -m alembic_flask_env contract' once the"
        " release before it is gone; no later revision runs until then."
        for row in rows
    ]


def status(connection: Connection, schema: str | None) -> list[str]:
    rows = pending(connection, schema)
    if not rows:
        return ["No revision is expanded and awaiting its contract."]
    return [line for row in rows for line in _described(row)]


def _described(row: Pending) -> list[str]:
    when = row.started.strftime("%Y-%m-%d %H:%M:%S %Z").strip()
    next_step = (
        "contract it once the old release is gone ('python -m alembic_flask_env"
        " contract'), or abort it"
        if row.phase == "expanded"
        else "'alembic upgrade' goes on with it; or abort it"
    )
    lines = [f"{row.revision}: {row.phase} (since {when}); {next_step}."]
    for number, step in enumerate(row.steps):
        if not needs_backfill(step):
            continue
        done = row.progress.get(str(number), {})
        rows_done = int(done.get("done", 0))
        finished = row.phase == "expanded"
        lines.append(
            f"  backfill of {step.target}: {rows_done} rows"
            + (" (done)" if finished else f", up to key {done.get('last', '-')}")
        )
    return lines


def contract(
    connection: Connection, schema: str | None, ledger: LedgerRecorder | None
) -> list[str]:
    rows = pending(connection, schema)
    if not rows:
        return ["No revision is expanded and awaiting its contract; nothing to do."]
    unfinished = [row for row in rows if row.phase != "expanded"]
    if unfinished:
        row = unfinished[0]
        raise ExpandContractRefused(
            f"contract: the expand of revision {row.revision} has not finished"
            f" (phase {row.phase}); nothing was contracted. Run 'alembic upgrade"
            f" {row.revision}' to finish it (it goes on where it stopped), or"
            " 'python -m alembic_flask_env abort'."
        )
    lines = []
    for row in rows:
        started = time.perf_counter()
        for statement in contract_statements(row.revision, row.steps, schema):
            connection.execute(text(statement))
        if ledger is not None:
            ledger.record_phase(
                connection,
                row.revision,
                row.down_revision,
                "contract",
                "contracted",
                f"dropped version schema {version_schema_name(row.revision)}",
                started,
            )
        lines.append(
            f"Contracted revision {row.revision}: the tables have their new shape,"
            " the triggers, old columns and version schema are gone."
        )
    return lines


def abort(
    connection: Connection,
    schema: str | None,
    version_table: str,
    ledger: LedgerRecorder | None,
) -> list[str]:
    rows = pending(connection, schema)
    if not rows:
        return ["No revision is expanded and awaiting its contract; nothing to abort."]
    row = rows[-1]
    started = time.perf_counter()
    for statement in abort_statements(row.revision, row.steps, schema):
        connection.execute(text(statement))
    if ledger is not None:
        ledger.record_phase(
            connection,
            row.revision,
            row.down_revision,
            "abort",
            "aborted",
            f"phase was {row.phase}",
            started,
        )
    if row.phase != "expanded":
        return [
            f"Aborted the unfinished expand of revision {row.revision};"
            " alembic_version was not moved by it."
        ]
    table = f'"{schema}"."{version_table}"' if schema else f'"{version_table}"'
    if row.down_revision is None:
        connection.execute(
            text(f"DELETE FROM {table} WHERE version_num = :revision"),
            {"revision": row.revision},
        )
    else:
        connection.execute(
            text(
                f"UPDATE {table} SET version_num = :down WHERE version_num = :revision"
            ),
            {"down": row.down_revision, "revision": row.revision},
        )
    return [
        f"Aborted revision {row.revision}; alembic_version is back at"
        f" {row.down_revision or '<base>'}. Deploy the release before it (or"
        " remove expand_contract's changes) before the next upgrade."
    ]
