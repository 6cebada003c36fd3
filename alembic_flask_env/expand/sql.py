"""The SQL of each phase, from the plan alone (no database needed).

Expand only adds: a shadow column for a changed type (or the added
column), CHECK ... NOT VALID constraints (validated after the backfill, a
scan that blocks no writes), and BEFORE triggers that keep the old and new
forms of a row in step whichever release writes it. The version schema's
views show the tables as the new code expects (renames are only aliases in
them). Contract drops the triggers and the old columns and renames; abort
drops everything expand added. Every name made here is derived from the
revision and the step's number, so abort and contract find them again.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Sequence

from .naming import STATE_TABLE
from .naming import version_schema_name
from .plan import Step

#: The session setting a backfill sets, so that the triggers leave the rows
#: it converts alone (else converting a value would convert it back).
BACKFILL_SETTING = "alembic_flask_env.backfill"


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def table_of(step: Step) -> str:
    return (
        f"{ident(step.schema)}.{ident(step.table)}"
        if step.schema
        else ident(step.table)
    )


def state_table(schema: str | None) -> str:
    return f"{ident(schema)}.{ident(STATE_TABLE)}" if schema else ident(STATE_TABLE)


def _short(revision: str) -> str:
    return version_schema_name(revision).removeprefix("afe_v_")[:40]


def object_name(revision: str, number: int, suffix: str) -> str:
    """The trigger, function or constraint of step ``number``."""
    return f"afe_{_short(revision)}_{number}_{suffix}"


def shadow_column(step: Step) -> str:
    """The new-typed column beside the old one until contract."""
    return f"{step.column[:50]}__afe_new"


def create_state_table(schema: str | None) -> str:
    return (
        f"CREATE TABLE IF NOT EXISTS {state_table(schema)} ("
        " revision varchar(255) PRIMARY KEY,"
        " version_schema varchar(63) NOT NULL,"
        " phase varchar(16) NOT NULL,"
        " down_revision varchar(255),"
        " plan text NOT NULL,"
        " progress jsonb NOT NULL DEFAULT '{}',"
        " started timestamptz NOT NULL DEFAULT now(),"
        " expanded timestamptz)"
    )


def needs_backfill(step: Step) -> bool:
    return step.kind in ("retype", "add_not_null") or (
        step.kind == "not_null" and step.fill is not None
    )


def _has_trigger(step: Step) -> bool:
    return needs_backfill(step)


def _has_check(step: Step) -> bool:
    return step.kind in ("not_null", "add_not_null") or (
        step.kind == "retype" and step.old_not_null
    )


def _checked_column(step: Step) -> str:
    return shadow_column(step) if step.kind == "retype" else step.column


def _from_row(expression: str) -> str:
    """``expression`` (naming the row's columns) for the row in NEW."""
    return f"(SELECT {expression} FROM (SELECT NEW.*) AS afe_row)"


def _trigger_body(step: Step) -> str:
    c = ident(step.column)
    if step.kind == "retype":
        s = ident(shadow_column(step))
        up = _from_row(step.up)
        down_expression = step.down or f"CAST({c} AS {step.old_type})"
        down = f"(SELECT {down_expression} FROM (SELECT NEW.{s} AS {c}) AS afe_row)"
        return (
            f"IF current_setting('{BACKFILL_SETTING}', true) = 'on' THEN RETURN NEW;"
            " END IF;"
            f" IF TG_OP = 'INSERT' THEN"
            f" IF NEW.{s} IS NULL THEN NEW.{s} := {up};"
            f" ELSE NEW.{c} := {down}; END IF;"
            f" ELSIF NEW.{c} IS DISTINCT FROM OLD.{c} THEN NEW.{s} := {up};"
            f" ELSIF NEW.{s} IS DISTINCT FROM OLD.{s} THEN NEW.{c} := {down};"
            " END IF; RETURN NEW;"
        )
    assert step.fill is not None
    fill = _from_row(step.fill)
    return f"IF NEW.{c} IS NULL THEN NEW.{c} := {fill}; END IF; RETURN NEW;"


def expand_statements(revision: str, steps: Sequence[Step]) -> list[str]:
    """The additive DDL, in the run's transaction (each ALTER TABLE takes
    its lock for an instant: no rewrite, no scan).
    """
    statements: list[str] = []
    for number, step in enumerate(steps):
        table = table_of(step)
        if step.kind == "retype":
            statements.append(
                f"ALTER TABLE {table} ADD COLUMN"
                f" {ident(shadow_column(step))} {step.type_sql}"
            )
        elif step.kind == "add_not_null":
            statements.append(
                f"ALTER TABLE {table} ADD COLUMN {ident(step.column)} {step.type_sql}"
            )
        if _has_check(step):
            statements.append(
                f"ALTER TABLE {table} ADD CONSTRAINT"
                f" {ident(object_name(revision, number, 'nn'))}"
                f" CHECK ({ident(_checked_column(step))} IS NOT NULL) NOT VALID"
            )
        if _has_trigger(step):
            function = _function(revision, number, step)
            statements.append(
                f"CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql"
                f" AS $afe$ BEGIN {_trigger_body(step)} END $afe$"
            )
            statements.append(
                f"CREATE TRIGGER {ident(object_name(revision, number, 'sync'))}"
                f" BEFORE INSERT OR UPDATE ON {table} FOR EACH ROW"
                f" EXECUTE FUNCTION {function}()"
            )
    return statements


def _function(revision: str, number: int, step: Step) -> str:
    name = ident(object_name(revision, number, "sync"))
    return f"{ident(step.schema)}.{name}" if step.schema else name


def backfill_statement(
    revision: str, number: int, step: Step, schema: str | None
) -> str:
    """One batch of step ``number``'s backfill, and its progress in the
    state row, in ONE statement (so one transaction: a batch is recorded
    done exactly when its rows are, and a re-run after kill -9 starts
    after the last committed batch). Parameters: ``:last`` (the last key
    done, as text, or NULL), ``:size``, ``:revision``. Returns the batch's
    row count and its last key.

    The statement itself tells the triggers to leave its rows alone
    (``set_config(..., true)``: for its own transaction only), never the
    session: behind a transaction pooler a session setting would stay on
    a server connection the app's requests then use, and their writes would
    go unsynced.
    """
    table = table_of(step)
    key = ident(step.key)
    if step.kind == "retype":
        target, value, only = ident(shadow_column(step)), step.up, ""
    else:
        assert step.fill is not None
        target, value = ident(step.column), step.fill
        only = f" AND {table}.{ident(step.column)} IS NULL"
    path = f"ARRAY['{number}']"
    done = f"COALESCE((progress -> '{number}' ->> 'done')::bigint, 0)"
    return (
        f"WITH afe_flag AS (SELECT set_config('{BACKFILL_SETTING}', 'on', true)),"
        f" afe_batch AS (SELECT {key} AS afe_key FROM {table}, afe_flag"
        f" WHERE CAST(:last AS text) IS NULL OR {key} > CAST(:last AS {step.key_type})"
        f" ORDER BY {key} LIMIT :size),"
        f" afe_changed AS (UPDATE {table} SET {target} = {value} FROM afe_batch"
        f" WHERE {table}.{key} = afe_batch.afe_key{only} RETURNING 1)"
        f" UPDATE {state_table(schema)} SET progress = jsonb_set(progress, {path},"
        " jsonb_build_object('last', COALESCE((SELECT max(afe_key)::text FROM"
        f" afe_batch), progress -> '{number}' ->> 'last'), 'done', {done} +"
        " (SELECT count(*) FROM afe_changed)))"
        " WHERE revision = :revision"
        " RETURNING (SELECT count(*) FROM afe_batch),"
        " (SELECT max(afe_key)::text FROM afe_batch)"
    )


def validate_statements(revision: str, steps: Sequence[Step]) -> list[str]:
    """After the backfill, outside a transaction: the CHECKs validated
    (a scan under SHARE UPDATE EXCLUSIVE: reads and writes go on).
    """
    return [
        f"ALTER TABLE {table_of(step)} VALIDATE CONSTRAINT"
        f" {ident(object_name(revision, number, 'nn'))}"
        for number, step in enumerate(steps)
        if _has_check(step)
    ]


def view_statements(
    revision: str,
    steps: Sequence[Step],
    columns: dict[tuple[str | None, str], list[str]],
) -> list[str]:
    """The version schema and a view per changed table, as the new code
    sees it. ``columns``: each changed table's columns in order (shadow
    columns included; they are left out here).
    """
    schema = ident(version_schema_name(revision))
    statements = [f"CREATE SCHEMA {schema}"]
    by_table: dict[tuple[str | None, str], list[Step]] = {}
    for step in steps:
        by_table.setdefault((step.schema, step.table), []).append(step)
    for (table_schema, table), changes in by_table.items():
        shadows = {shadow_column(s) for s in changes if s.kind == "retype"}
        renamed = {s.column: s.new_name for s in changes if s.kind == "rename_column"}
        retyped = {s.column: s for s in changes if s.kind == "retype"}
        dropped = {s.column for s in changes if s.kind == "drop_column"}
        name = next((s.new_name for s in changes if s.kind == "rename_table"), table)
        select = []
        for column in columns[(table_schema, table)]:
            if column in shadows or column in dropped:
                continue
            if column in renamed:
                select.append(f"{ident(column)} AS {ident(renamed[column])}")
            elif column in retyped:
                select.append(
                    f"{ident(shadow_column(retyped[column]))} AS {ident(column)}"
                )
            else:
                select.append(ident(column))
        view = f"{schema}.{ident(name)}"
        statements.append(
            f"CREATE VIEW {view} AS SELECT {', '.join(select)}"
            f" FROM {table_of(changes[0])}"
        )
        for step in retyped.values():
            if step.old_default is not None:
                statements.append(
                    f"ALTER VIEW {view} ALTER COLUMN {ident(step.column)} SET DEFAULT"
                    f" CAST(({step.old_default}) AS {step.type_sql})"
                )
    return statements


def _drop_syncing(revision: str, steps: Sequence[Step]) -> list[str]:
    statements = []
    for number, step in enumerate(steps):
        if _has_trigger(step):
            statements.append(
                f"DROP TRIGGER IF EXISTS {ident(object_name(revision, number, 'sync'))}"
                f" ON {table_of(step)}"
            )
            statements.append(
                f"DROP FUNCTION IF EXISTS {_function(revision, number, step)}()"
            )
    return statements


def contract_statements(
    revision: str, steps: Sequence[Step], schema: str | None
) -> list[str]:
    """Make the new form the only one, in one transaction: each statement
    changes the catalog only (SET NOT NULL uses the validated CHECK and
    does not scan).
    """
    statements = [
        f"DROP SCHEMA IF EXISTS {ident(version_schema_name(revision))} CASCADE",
        *_drop_syncing(revision, steps),
    ]
    for number, step in enumerate(steps):
        table = table_of(step)
        column = ident(step.column)
        check = ident(object_name(revision, number, "nn"))
        if step.kind == "rename_column":
            statements.append(
                f"ALTER TABLE {table} RENAME COLUMN {column} TO {ident(step.new_name)}"
            )
        elif step.kind == "rename_table":
            statements.append(f"ALTER TABLE {table} RENAME TO {ident(step.new_name)}")
        elif step.kind == "drop_column":
            statements.append(f"ALTER TABLE {table} DROP COLUMN {column}")
        elif step.kind == "retype":
            statements += [
                f"ALTER TABLE {table} DROP COLUMN {column}",
                f"ALTER TABLE {table} RENAME COLUMN"
                f" {ident(shadow_column(step))} TO {column}",
            ]
            if step.old_default is not None:
                statements.append(
                    f"ALTER TABLE {table} ALTER COLUMN {column} SET DEFAULT"
                    f" CAST(({step.old_default}) AS {step.type_sql})"
                )
        if _has_check(step):
            statements += [
                f"ALTER TABLE {table} ALTER COLUMN {column} SET NOT NULL",
                f"ALTER TABLE {table} DROP CONSTRAINT {check}",
            ]
        if step.kind == "add_not_null" and step.server_default is not None:
            statements.append(
                f"ALTER TABLE {table} ALTER COLUMN {column}"
                f" SET DEFAULT {step.server_default}"
            )
    return [*statements, *_forget(revision, schema)]


def abort_statements(
    revision: str, steps: Sequence[Step], schema: str | None
) -> list[str]:
    """Drop everything expand added (IF EXISTS: an expand stopped part way
    is aborted too), in one transaction.
    """
    statements = [
        f"DROP SCHEMA IF EXISTS {ident(version_schema_name(revision))} CASCADE",
        *_drop_syncing(revision, steps),
    ]
    for number, step in enumerate(steps):
        table = table_of(step)
        if step.kind == "retype":
            statements.append(
                f"ALTER TABLE {table} DROP COLUMN IF EXISTS"
                f" {ident(shadow_column(step))}"
            )
        elif step.kind == "add_not_null":
            statements.append(
                f"ALTER TABLE {table} DROP COLUMN IF EXISTS {ident(step.column)}"
            )
        elif step.kind == "not_null":
            statements.append(
                f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS"
                f" {ident(object_name(revision, number, 'nn'))}"
            )
    return [*statements, *_forget(revision, schema)]


def _forget(revision: str, schema: str | None) -> list[str]:
    """The state row deleted, and the state table with it once empty: a
    database with nothing pending holds nothing of ours.
    """
    table = state_table(schema)
    literal = "'" + revision.replace("'", "''") + "'"
    return [
        f"DELETE FROM {table} WHERE revision = {literal}",
        f"DO $afe$ BEGIN IF NOT EXISTS (SELECT FROM {table}) THEN"
        f" DROP TABLE {table}; END IF; END $afe$",
    ]


def joined(statements: Iterable[str]) -> str:
    """For ``--sql``-like display and the tests."""
    return ";\n".join(statements) + ";"
