"""What the checks read from raw SQL and from recorded operations, and
how the safe forms are written: in process, no database.
"""

from __future__ import annotations

import logging
import types
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import op
from alembic.operations import ops

from alembic_flask_env.checks.autogenerate import AutocommitBlockOp
from alembic_flask_env.checks.autogenerate import write_safe_forms
from alembic_flask_env.checks.changes import Change
from alembic_flask_env.checks.facts import Facts
from alembic_flask_env.checks.from_operations import changes_of
from alembic_flask_env.checks.lint import lint
from alembic_flask_env.checks.lint import render
from alembic_flask_env.checks.recording import record
from alembic_flask_env.checks.sql import changes_of_sql
from alembic_flask_env.checks.sql import foreign_key_checks
from alembic_flask_env.checks.stand_in import answering_for

BASE = {"path": "r.py", "line": 3, "revision": "r", "in_autocommit_block": False}


def kinds(sql: str, dialect: str = "postgresql") -> list[tuple[str, str | None, str]]:
    return [
        (change.kind, change.table, change.name)
        for change in changes_of_sql(sql, dialect, BASE)
    ]


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("CREATE TABLE t (id int)", [("create_table", "t", "")]),
        ("DROP TABLE t, u", [("drop_table", "t", "t"), ("drop_table", "u", "u")]),
        ("DROP INDEX CONCURRENTLY ix", [("drop_index", None, "ix")]),
        ("DROP VIEW v", []),
        ("ALTER TABLE t RENAME TO u", [("rename_table", "t", "u")]),
        ("ALTER TABLE t RENAME COLUMN a TO b", [("rename_column", "t", "a")]),
        ("ALTER INDEX ix RENAME TO iy", []),
        ("ALTER TABLE t ALTER COLUMN a TYPE bigint", [("alter_type", "t", "a")]),
        ("ALTER TABLE t ALTER COLUMN a SET NOT NULL", [("set_not_null", "t", "a")]),
        ("ALTER TABLE t DROP COLUMN a", [("drop_column", "t", "a")]),
        ("ALTER TABLE t VALIDATE CONSTRAINT c", [("validate_constraint", "t", "c")]),
        (
            "ALTER TABLE t ADD CONSTRAINT f FOREIGN KEY (a) REFERENCES u (id)",
            [("add_foreign_key", "t", "f")],
        ),
        ("ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0)", [("add_check", "t", "c")]),
        ("ALTER TABLE t ADD CONSTRAINT u UNIQUE (a)", [("add_unique", "t", "u")]),
        ("ALTER TABLE t ADD CONSTRAINT u UNIQUE USING INDEX ix", []),
        (
            "ALTER TABLE t ADD CONSTRAINT x EXCLUDE USING btree (a WITH =)",
            [("add_exclusion", "t", "x")],
        ),
        ("ALTER TABLE t ADD PRIMARY KEY (a)", [("add_primary_key", "t", "")]),
        ("ALTER TABLE t ADD CONSTRAINT p PRIMARY KEY USING INDEX ix", []),
        ("SELECT 1", []),
    ],
)
def test_statements_as_changes(
    sql: str, expected: list[tuple[str, str | None, str]]
) -> None:
    assert kinds(sql) == expected


def test_added_columns_and_their_traits() -> None:
    [json, generated, identity, serial, required] = changes_of_sql(
        "ALTER TABLE t ADD COLUMN j json;"
        " ALTER TABLE t ADD COLUMN g int GENERATED ALWAYS AS (a * 2) STORED;"
        " ALTER TABLE t ADD COLUMN i int GENERATED ALWAYS AS IDENTITY;"
        " ALTER TABLE t ADD COLUMN s serial;"
        " ALTER TABLE t ADD COLUMN r int NOT NULL DEFAULT 0",
        "postgresql",
        BASE,
    )
    assert json.column_traits == {"json"}
    assert generated.column_traits == {"stored_generated"}
    assert identity.column_traits == {"auto_increment"}
    assert serial.column_traits == {"auto_increment"}
    assert (required.not_null, required.default) == (True, "0")
    [check] = list(
        changes_of_sql(
            "ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0) NOT VALID", "postgresql", BASE
        )
    )
    assert (check.not_valid, check.condition) == (True, "a > 0")


def test_sql_the_parser_cannot_read_is_said(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        assert kinds("ALTER TABLE t FROBNICATE") == []
    assert "that PostgreSQL's parser cannot read" in caplog.text


def test_on_mysql_only_foreign_key_checks_are_read(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert kinds("SET SESSION foreign_key_checks = 0", "mysql") == [
        ("foreign_key_checks_off", None, "")
    ]
    with caplog.at_level(logging.INFO):
        assert kinds("ALTER TABLE t ADD INDEX (a)", "mariadb") == []
        assert kinds("ALTER TABLE t ADD INDEX (b)", "mariadb") == []
    assert caplog.text.count("checked on PostgreSQL only") <= 1


@pytest.mark.parametrize(
    ("sql", "settings"),
    [
        ("SET foreign_key_checks = 0", [False]),
        ("set session FOREIGN_KEY_CHECKS=off;", [False]),
        ("SET LOCAL foreign_key_checks = FALSE", [False]),
        ("SET @@foreign_key_checks = 0", [False]),
        ("SET @@session.foreign_key_checks = OFF", [False]),
        ("SET @@local.foreign_key_checks := 'OFF'", [False]),
        ("/*!40014 SET FOREIGN_KEY_CHECKS=0 */;", [False]),
        ("SET\n  foreign_key_checks = 1", [True]),
        ("SET foreign_key_checks = ON", [True]),
        ("SET @@SESSION.foreign_key_checks = true", [True]),
        (
            "SET unique_checks = 0, foreign_key_checks = 0; SET foreign_key_checks = 1",
            [False, True],
        ),
        ("SET GLOBAL foreign_key_checks = 0", []),
        ("SET @@global.foreign_key_checks = 0", []),
        ("SET foreign_key_checks = 2", []),
        ("SELECT 1", []),
    ],
)
def test_every_spelling_of_foreign_key_checks(sql: str, settings: list[bool]) -> None:
    assert foreign_key_checks(sql) == settings
    expected = [
        ("foreign_key_checks_on" if on else "foreign_key_checks_off", None, "")
        for on in settings
    ]
    if expected:
        assert kinds(sql, "mariadb") == expected


def revision(tmp_path: Path, source: str, name: str = "r1") -> types.SimpleNamespace:
    """A stand-in for Alembic's Script: its revision, path and module."""
    path = tmp_path / f"{name}.py"
    path.write_text(source)
    module = types.ModuleType(name)
    exec(compile(source, str(path), "exec"), module.__dict__)
    return types.SimpleNamespace(revision=name, path=str(path), module=module)


def test_batch_operations_and_autocommit_blocks_are_recorded(tmp_path: Path) -> None:
    script = revision(
        tmp_path,
        "from alembic import op\nimport sqlalchemy as sa\n\n"
        "def upgrade():\n"
        "    with op.batch_alter_table('t') as batch:\n"
        "        batch.add_column(sa.Column('c', sa.Integer(), nullable=False))\n"
        "    with op.get_context().autocommit_block():\n"
        "        op.create_index('ix', 't', ['c'], postgresql_concurrently=True)\n"
        "    raise RuntimeError('the database is needed here')\n",
    )
    recording = record(script, script.module.upgrade, "postgresql")  # type: ignore[arg-type]
    changes = list(changes_of(recording, "postgresql"))
    assert [(c.kind, c.line, c.in_autocommit_block) for c in changes] == [
        ("add_column", 6, False),
        ("create_index", 8, True),
    ]
    assert recording.stopped == "RuntimeError: the database is needed here"


def test_a_multidb_revision_is_linted_per_bind(tmp_path: Path) -> None:
    script = revision(
        tmp_path,
        "from alembic import op\n\n"
        "def upgrade(engine_name):\n"
        "    globals()[f'upgrade_{engine_name}']()\n\n"
        "def upgrade_default():\n    op.drop_table('a')\n\n"
        "def upgrade_users():\n    op.drop_table('b')\n",
    )
    findings = lint([script], Facts("postgresql"))  # type: ignore[list-item]
    assert [(f.rule, f.table) for f in findings] == [
        ("ban-drop-table", "a"),
        ("ban-drop-table", "b"),
    ]
    assert render([], "text") == "No findings."
    assert render(findings, "github").count("::error file=") == 2


def test_safe_forms_for_existing_tables_only() -> None:
    index = ops.CreateIndexOp("ix", "t", [sa.column("a")])
    fresh = ops.CreateIndexOp("ix_new", "new", [sa.column("a")])
    foreign = ops.CreateForeignKeyOp(
        "fk", "t", "u", ["u_id"], ["id"], source_schema="app"
    )
    unnamed = ops.CreateForeignKeyOp(None, "t", "u", ["u_id"], ["id"])
    upgrade = ops.UpgradeOps(
        ops=[
            ops.CreateTableOp("new", [sa.Column("a", sa.Integer())]),
            fresh,
            ops.ModifyTableOps("t", [index]),
            foreign,
            unnamed,
        ]
    )
    downgrade = ops.DowngradeOps(
        ops=[ops.ModifyTableOps("t", [ops.DropIndexOp("ix", "t")])]
    )
    script = ops.MigrationScript("r", upgrade, downgrade)
    write_safe_forms([script])
    [_, kept, modified, added, validate, plain] = upgrade.ops
    assert kept is fresh and "postgresql_concurrently" not in fresh.kw
    assert isinstance(modified, ops.ModifyTableOps)
    assert isinstance(modified.ops[0], AutocommitBlockOp)
    assert index.kw["postgresql_concurrently"] is True
    assert added is foreign and foreign.kw["postgresql_not_valid"] is True
    assert isinstance(validate, AutocommitBlockOp)
    [sql] = validate.ops
    assert isinstance(sql, ops.ExecuteSQLOp)
    assert sql.sqltext == "ALTER TABLE app.t VALIDATE CONSTRAINT fk"
    assert plain is unnamed  # no name to validate by
    assert isinstance(downgrade.ops[0].ops[0], AutocommitBlockOp)  # type: ignore[attr-defined]


def recorded(tmp_path: Path, body: str, dialect: str = "postgresql") -> list[Change]:
    source = (
        "from alembic import op\nimport sqlalchemy as sa\n\n"
        "def upgrade():\n" + "".join(f"    {line}\n" for line in body.splitlines())
    )
    script = revision(tmp_path, source)
    recording = record(script, script.module.upgrade, dialect)  # type: ignore[arg-type]
    assert not recording.stopped, recording.stopped
    return list(changes_of(recording, dialect))


def test_what_add_column_sends_after_the_column(tmp_path: Path) -> None:
    """An index for index=True, a constraint for unique=True and for each
    foreign key, named as Alembic names them.
    """
    changes = recorded(
        tmp_path,
        "op.add_column('item', sa.Column('owner_id', sa.Integer(),"
        " sa.ForeignKey('owner.id'), index=True))\n"
        "op.add_column('item', sa.Column('code', sa.String(5), unique=True))\n"
        "op.add_column('item', sa.Column('plain', sa.Integer()))",
    )
    assert [(c.kind, c.name, c.line) for c in changes] == [
        ("add_column", "owner_id", 5),
        ("add_foreign_key", "", 5),
        ("create_index", "ix_item_owner_id", 5),
        ("add_column", "code", 6),
        ("add_unique", "", 6),
        ("add_column", "plain", 7),
    ]


def test_a_string_server_default_is_a_quoted_literal(tmp_path: Path) -> None:
    changes = recorded(
        tmp_path,
        "op.add_column('t', sa.Column('a', sa.String(5), nullable=False,"
        " server_default=''))\n"
        "op.add_column('t', sa.Column('b', sa.String(5), server_default=\"it's\"))\n"
        "op.add_column('t', sa.Column('c', sa.Integer(),"
        " server_default=sa.text('0')))\n"
        "op.add_column('t', sa.Column('d', sa.Integer()))",
    )
    assert [c.default for c in changes] == ["''", "'it''s'", "0", ""]
    # As the same columns read from SQL:
    [sql] = changes_of_sql(
        "ALTER TABLE t ADD COLUMN a varchar(5) NOT NULL DEFAULT ''", "postgresql", BASE
    )
    assert sql.default == "''"


def test_create_primary_key_is_a_primary_key(tmp_path: Path) -> None:
    [change] = recorded(tmp_path, "op.create_primary_key('pk_tag', 'tag', ['name'])")
    assert (change.kind, change.table, change.name) == (
        "add_primary_key",
        "tag",
        "pk_tag",
    )


@pytest.mark.parametrize("dialect", ["postgresql", "mysql", "mariadb"])
def test_the_stand_in_connection_answers_what_needs_no_database(
    tmp_path: Path, dialect: str
) -> None:
    changes = recorded(
        tmp_path,
        "bind = op.get_bind()\n"
        "assert bind.engine.url.get_backend_name() == bind.dialect.name\n"
        "assert bind.engine.url.drivername == bind.engine.name == bind.name\n"
        "assert bind.engine.dialect is bind.dialect\n"
        "assert bind.engine.url.password is None\n"
        "assert op.get_context().bind is bind\n"
        f"assert bind.dialect.name == {dialect!r}\n"
        "bind.execute(sa.text('ALTER TABLE t DROP COLUMN a'))\n"
        "bind.exec_driver_sql('DROP TABLE u')\n"
        "bind.execute(sa.update(sa.table('t', sa.column('a'))).values(a=1))",
        dialect,
    )
    if dialect == "postgresql":
        assert [(c.kind, c.line) for c in changes] == [
            ("drop_column", 12),
            ("drop_table", 13),
        ]


def test_what_the_stand_in_cannot_answer_stops_the_recording(tmp_path: Path) -> None:
    source = (
        "from alembic import op\nimport sqlalchemy as sa\n\n"
        "def upgrade():\n"
        "    op.drop_table('a')\n"
        "    op.get_bind().in_transaction()\n"
        "    op.drop_table('b')\n"
    )
    script = revision(tmp_path, source)
    recording = record(script, script.module.upgrade, "postgresql")  # type: ignore[arg-type]
    assert recording.stopped == (
        "CannotAnswerWhileRecording: op.get_bind().in_transaction needs the database"
    )
    assert recording.stopped_line == 6
    assert len(recording.operations) == 1


def test_a_plugin_operation_without_an_implementation_is_named(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    class Unimplemented(ops.MigrateOperation):
        pass

    script = revision(tmp_path, "from alembic import op\n\ndef upgrade():\n    pass\n")
    recording = record(
        script,  # type: ignore[arg-type]
        lambda: op.invoke(Unimplemented()),
        "postgresql",
    )
    with caplog.at_level(logging.WARNING):
        assert list(changes_of(recording, "postgresql")) == []
    assert (
        "Unimplemented is not checked: it is a plugin's operation without an"
        " implementation registered here." in caplog.text
    )


def test_before_a_run_the_stand_in_answers_as_the_database(tmp_path: Path) -> None:
    """With the database's engine (never connected to here): its dialect,
    and its URL with every secret masked.
    """
    engine = sa.create_engine(
        "postgresql+psycopg://app:s3cret@db.internal:5433/shop?sslpassword=k3y"
    )
    with answering_for(engine):
        recorded(
            tmp_path,
            "url = op.get_bind().engine.url\n"
            "assert op.get_bind().dialect is op.get_bind().engine.dialect\n"
            "assert (url.drivername, url.host, url.port, url.database) =="
            " ('postgresql+psycopg', 'db.internal', 5433, 'shop')\n"
            "assert (url.password, url.query['sslpassword']) == ('***', '***')\n"
            "assert 's3cret' not in url.render_as_string(hide_password=False)",
        )
    engine.dispose()
