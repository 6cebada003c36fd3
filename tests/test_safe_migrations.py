"""Safe migrations: each rule refuses its unsafe revision before anything
runs, on the real servers, and lets the safe form through.
"""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Callable

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from harness import Project
from harness import other_session
from harness import query
from harness import write_revision

#: The tables every case starts from, with rows: an existing, used table.
SETUP = """
op.execute("CREATE TABLE owner (id integer PRIMARY KEY)")
op.execute("CREATE TABLE item (id integer PRIMARY KEY, name varchar(50),"
           " owner_id integer, qty integer)")
op.execute("CREATE INDEX ix_item_qty ON item (qty)")
op.execute("INSERT INTO owner VALUES (1)")
op.execute("INSERT INTO item VALUES (1, 'a', 1, 1), (2, 'b', 1, 2)")
op.execute("ANALYZE item")
"""

#: rule: (the unsafe body, the safe body); a safe body of None means the
#: rule has no safe form here, and a reasoned skip lets it through.
POSTGRESQL_CASES = {
    "require-concurrent-index-creation": (
        'op.create_index("ix_item_name", "item", ["name"])',
        """
        with op.get_context().autocommit_block():
            op.create_index(
                "ix_item_name", "item", ["name"], postgresql_concurrently=True
            )
        """,
    ),
    "require-concurrent-index-deletion": (
        'op.drop_index("ix_item_qty", table_name="item")',
        """
        with op.get_context().autocommit_block():
            op.drop_index(
                "ix_item_qty", table_name="item", postgresql_concurrently=True
            )
        """,
    ),
    "ban-concurrent-index-creation-in-transaction": (
        'op.create_index("ix_item_name", "item", ["name"],'
        " postgresql_concurrently=True)",
        """
        with op.get_context().autocommit_block():
            op.create_index(
                "ix_item_name", "item", ["name"], postgresql_concurrently=True
            )
        """,
    ),
    "adding-not-nullable-field": (
        'op.alter_column("item", "name", nullable=False)',
        """
        op.create_check_constraint(
            "name_not_null", "item", "name IS NOT NULL", postgresql_not_valid=True
        )
        with op.get_context().autocommit_block():
            op.execute("ALTER TABLE item VALIDATE CONSTRAINT name_not_null")
        op.alter_column("item", "name", nullable=False)
        op.drop_constraint("name_not_null", "item")
        """,
    ),
    "adding-required-field": (
        'op.add_column("item", sa.Column("price", sa.Integer(), nullable=False))',
        'op.add_column("item", sa.Column("price", sa.Integer(), nullable=True))',
    ),
    "adding-field-with-default": (
        'op.add_column("item", sa.Column("token", sa.Text(),'
        ' server_default=sa.text("md5(random()::text)")))',
        'op.add_column("item", sa.Column("token", sa.Text(), server_default="none"))',
    ),
    "adding-foreign-key-constraint": (
        'op.create_foreign_key("fk_item_owner", "item", "owner", ["owner_id"], ["id"])',
        """
        op.create_foreign_key(
            "fk_item_owner", "item", "owner", ["owner_id"], ["id"],
            postgresql_not_valid=True,
        )
        with op.get_context().autocommit_block():
            op.execute("ALTER TABLE item VALIDATE CONSTRAINT fk_item_owner")
        """,
    ),
    "constraint-missing-not-valid": (
        'op.create_check_constraint("ck_qty", "item", "qty >= 0")',
        """
        op.create_check_constraint(
            "ck_qty", "item", "qty >= 0", postgresql_not_valid=True
        )
        with op.get_context().autocommit_block():
            op.execute("ALTER TABLE item VALIDATE CONSTRAINT ck_qty")
        """,
    ),
    "changing-column-type": (
        'op.alter_column("item", "qty", type_=sa.BigInteger(),'
        " existing_type=sa.Integer())",
        'op.alter_column("item", "name", type_=sa.String(100),'
        " existing_type=sa.String(50))",
    ),
    "renaming-column": (
        'op.alter_column("item", "qty", new_column_name="amount")',
        None,
    ),
    "renaming-table": ('op.rename_table("item", "article")', None),
    "ban-drop-column": ('op.drop_column("item", "qty")', None),
    "ban-drop-table": ('op.drop_table("item")', None),
    "disallowed-unique-constraint": (
        'op.create_unique_constraint("uq_item_name", "item", ["name"])',
        """
        with op.get_context().autocommit_block():
            op.create_index(
                "uq_item_name", "item", ["name"], unique=True,
                postgresql_concurrently=True,
            )
        op.execute(
            "ALTER TABLE item ADD CONSTRAINT uq_item_name UNIQUE"
            " USING INDEX uq_item_name"
        )
        """,
    ),
    "adding-json-column": (
        'op.add_column("item", sa.Column("data", sa.JSON()))',
        'op.add_column("item", sa.Column("data", postgresql.JSONB()))',
    ),
    "adding-stored-generated-column": (
        'op.add_column("item", sa.Column("double", sa.Integer(),'
        ' sa.Computed("qty * 2")))',
        'op.add_column("item", sa.Column("double", sa.Integer()))',
    ),
    "adding-auto-incrementing-column": (
        'op.add_column("item", sa.Column("seq", sa.Integer(), sa.Identity()))',
        'op.add_column("item", sa.Column("seq", sa.Integer()))',
    ),
    "adding-exclusion-constraint": (
        'op.execute("ALTER TABLE item ADD CONSTRAINT ex_qty EXCLUDE USING btree'
        ' (qty WITH =)")',
        None,
    ),
}

IMPORTS = "import sqlalchemy as sa\nfrom sqlalchemy.dialects import postgresql\n"


def write_case(project: Project, body: str, skip: str = "") -> None:
    path = write_revision(project, "s1", "s0", body)
    path.write_text(IMPORTS + skip + path.read_text())


def schema(project: Project) -> list[tuple[object, ...]]:
    return query(
        project,
        "SELECT table_name, column_name, data_type FROM information_schema.columns"
        " WHERE table_schema = 'public' ORDER BY 1, 2",
    ) + query(
        project,
        "SELECT indexname FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1",
    )


@pytest.fixture
def started(pg: Project) -> Project:
    """The PostgreSQL project at s0: owner and item exist and have rows."""
    write_revision(pg, "s0", None, SETUP)
    pg.alembic("upgrade", "s0")
    return pg


@pytest.mark.postgresql
@pytest.mark.parametrize("rule", sorted(POSTGRESQL_CASES))
def test_each_rule_refuses_its_unsafe_revision_and_passes_the_safe_one(
    started: Project, rule: str
) -> None:
    unsafe, safe = POSTGRESQL_CASES[rule]
    write_case(started, unsafe)
    before = schema(started)
    result = started.alembic("upgrade", "head", ok=False)
    message = result.stdout
    assert message.startswith("FAILED: ")
    assert f"[{rule}] Revision s1 (" in message, message
    assert "on table 'item', about 2 rows" in message or rule.startswith("ban-conc")
    assert "so nothing was run" in message
    assert "Traceback" not in result.stderr
    assert "Running upgrade s0 -> s1" not in result.stderr
    assert schema(started) == before
    assert query(started, "SELECT version_num FROM alembic_version") == [("s0",)]

    if safe is None:
        # Every rule the statement broke, each with its reason.
        fired = sorted(set(re.findall(r"^\[([a-z-]+)\] ", message, re.MULTILINE)))
        assert rule in fired
        reasons = ", ".join(
            f"{fired_rule!r}: 'the app no longer uses it; checked, 2026-12-01'"
            for fired_rule in fired
        )
        write_case(started, unsafe, f"migration_checks_skip = {{{reasons}}}\n")
    else:
        write_case(started, safe)
    started.alembic("upgrade", "head")
    assert query(started, "SELECT version_num FROM alembic_version") == [("s1",)]


@pytest.mark.postgresql
def test_raw_sql_is_held_to_the_same_rules(started: Project) -> None:
    write_case(started, 'op.execute("CREATE INDEX ix_item_name ON item (name)")')
    message = started.alembic("upgrade", "head", ok=False).stdout
    assert "[require-concurrent-index-creation] Revision s1 (" in message
    write_case(
        started,
        """
        with op.get_context().autocommit_block():
            op.execute("CREATE INDEX CONCURRENTLY ix_item_name ON item (name)")
        """,
    )
    started.alembic("upgrade", "head")


@pytest.mark.postgresql
def test_a_table_created_in_the_same_run_is_exempt(pg: Project) -> None:
    write_revision(
        pg,
        "s0",
        None,
        """
        op.create_table("fresh", sa.Column("id", sa.Integer(), primary_key=True),
                        sa.Column("name", sa.String(20)))
        """,
    )
    write_revision(pg, "s1", "s0", 'op.create_index("ix_fresh", "fresh", ["name"])')
    for name in ("s0", "s1"):
        path = pg.root / "migrations" / "versions" / f"{name}.py"
        path.write_text(IMPORTS + path.read_text())
    pg.alembic("upgrade", "head")
    assert query(pg, "SELECT version_num FROM alembic_version") == [("s1",)]


@pytest.mark.postgresql
@pytest.mark.parametrize(
    ("skip", "message"),
    [
        (
            "migration_checks_skip = {'require-concurrent-index-creation': ' '}\n",
            "migration_checks_skip in revision s1 ({path}) skips"
            " 'require-concurrent-index-creation' without a reason.",
        ),
        (
            "migration_checks_skip = ['require-concurrent-index-creation']\n",
            "migration_checks_skip in revision s1 ({path}) is a list; write a dict"
            " of rule ids and reasons,",
        ),
        (
            "migration_checks_skip = {'no-such-rule': 'because'}\n",
            "migration_checks_skip in revision s1 ({path}) names 'no-such-rule',"
            " which is no rule.",
        ),
    ],
)
def test_a_skip_needs_a_reason_and_a_real_rule(
    started: Project, skip: str, message: str
) -> None:
    write_case(started, 'op.create_index("ix_item_name", "item", ["name"])', skip)
    path = started.root / "migrations" / "versions" / "s1.py"
    assert started.failure("upgrade", "head").startswith(message.format(path=path))


@pytest.mark.postgresql
def test_warn_logs_and_runs_off_runs_quietly(started: Project) -> None:
    write_case(started, 'op.create_index("ix_item_name", "item", ["name"])')
    result = started.alembic("-x", "migration_checks=warn", "upgrade", "head")
    assert "[require-concurrent-index-creation] Revision s1 (" in result.stderr
    path = write_revision(
        started, "s2", "s1", 'op.create_index("ix_item_both", "item", ["name", "qty"])'
    )
    result = started.alembic("-x", "migration_checks=off", "upgrade", "head")
    assert "require-concurrent-index-creation" not in result.stderr
    assert path.is_file()


@pytest.mark.postgresql
def test_a_table_smaller_than_min_rows_is_logged_not_refused(
    started: Project,
) -> None:
    write_case(started, 'op.create_index("ix_item_name", "item", ["name"])')
    result = started.alembic("-x", "migration_checks_min_rows=1000", "upgrade", "head")
    assert "[require-concurrent-index-creation] Revision s1 (" in result.stderr
    assert query(started, "SELECT version_num FROM alembic_version") == [("s1",)]


def test_a_bad_mode_is_refused(blog: Project) -> None:
    assert blog.failure("-x", "migration_checks=maybe", "upgrade", "head") == (
        "migration_checks = 'maybe' (from -x migration_checks=...) is not one of"
        " error, warn, off. Set migration_checks = error (the default: refuse a"
        " revision that would block the app), warn (log it and run) or off."
    )


@pytest.mark.mariadb
def test_a_type_change_that_copies_the_table_on_mariadb(maria: Project) -> None:
    write_revision(
        maria,
        "s0",
        None,
        'op.execute("CREATE TABLE item (id int PRIMARY KEY, qty int)")',
    )
    maria.alembic("upgrade", "s0")
    write_case(
        maria,
        'op.alter_column("item", "qty", type_=sa.BigInteger(),'
        " existing_type=sa.Integer())",
    )
    message = maria.alembic("upgrade", "head", ok=False).stdout
    assert "[changing-column-type] Revision s1 (" in message
    assert "ALGORITHM=COPY" in message
    maria.alembic("-x", "migration_checks=warn", "upgrade", "head")


@pytest.mark.postgresql
@pytest.mark.parametrize("safe", [True, False])
def test_autogenerate_writes_the_safe_form(pg: Project, safe: bool) -> None:
    """An index added to an existing table: built concurrently in an
    autocommit block (and dropped so on the way down), so that the fresh
    revision passes the checks; Alembic's plain form without the setting.
    """
    setting = ["-x", f"migration_checks_autogenerate={str(safe).lower()}"]
    pg.alembic("revision", "--autogenerate", "-m", "init")
    pg.alembic("upgrade", "head")
    models = pg.root / "blogapp" / "models.py"
    models.write_text(
        models.read_text().replace(
            "name = db.Column(db.String(50), nullable=False)",
            "name = db.Column(db.String(50), nullable=False, index=True)",
        )
    )
    pg.alembic(*setting, "revision", "--autogenerate", "-m", "index")
    [revision] = [p for p in pg.revision_files() if "index" in p.name]
    source = revision.read_text()
    if not safe:
        assert "autocommit_block" not in source
        message = pg.alembic("upgrade", "head", ok=False).stdout
        assert "[require-concurrent-index-creation]" in message
        return
    assert (
        "    with op.get_context().autocommit_block():\n"
        "        op.drop_index(op.f('ix_user_name'), table_name='user',"
        " postgresql_concurrently=True, if_exists=True)\n"
        "        op.create_index(op.f('ix_user_name'), 'user', ['name'],"
        " unique=False, postgresql_concurrently=True)\n" in source
    )
    assert (
        "        op.drop_index(op.f('ix_user_name'), table_name='user',"
        " postgresql_concurrently=True, if_exists=True)\n"
        in source.split("def downgrade")[1]
    )
    pg.alembic("upgrade", "head")
    assert query(
        pg, "SELECT indexname FROM pg_indexes WHERE indexname = 'ix_user_name'"
    ) == [("ix_user_name",)]
    pg.alembic("downgrade", "-1")
    assert (
        query(pg, "SELECT indexname FROM pg_indexes WHERE indexname = 'ix_user_name'")
        == []
    )


#: The rules MySQL/MariaDB share, with their unsafe and safe bodies.
MARIADB_CASES = {
    "adding-not-nullable-field": (
        'op.alter_column("item", "name", nullable=False, existing_type=sa.String(50))',
        None,
    ),
    "adding-required-field": (
        'op.add_column("item", sa.Column("price", sa.Integer(), nullable=False))',
        'op.add_column("item", sa.Column("price", sa.Integer(), nullable=True))',
    ),
    "adding-foreign-key-constraint": (
        'op.create_foreign_key("fk_item_owner", "item", "owner", ["owner_id"], ["id"])',
        """
        op.execute("SET SESSION foreign_key_checks = 0")
        op.create_foreign_key(
            "fk_item_owner", "item", "owner", ["owner_id"], ["id"]
        )
        op.execute("SET SESSION foreign_key_checks = 1")
        """,
    ),
    "renaming-column": (
        'op.alter_column("item", "qty", new_column_name="amount",'
        " existing_type=sa.Integer())",
        None,
    ),
    "renaming-table": ('op.rename_table("item", "article")', None),
    "ban-drop-column": ('op.drop_column("item", "qty")', None),
    "ban-drop-table": ('op.drop_table("item")', None),
    # STORED copies the table (ALGORITHM=COPY); VIRTUAL is added instantly.
    "adding-stored-generated-column": (
        'op.add_column("item", sa.Column("double", sa.Integer(),'
        ' sa.Computed("qty * 2", persisted=True)))',
        'op.add_column("item", sa.Column("double", sa.Integer(),'
        ' sa.Computed("qty * 2", persisted=False)))',
    ),
}


@pytest.mark.mariadb
@pytest.mark.parametrize("rule", sorted(MARIADB_CASES))
def test_each_mysql_rule_on_mariadb(maria: Project, rule: str) -> None:
    write_revision(
        maria,
        "s0",
        None,
        """
        op.execute("CREATE TABLE owner (id int PRIMARY KEY)")
        op.execute("CREATE TABLE item (id int PRIMARY KEY, name varchar(50),"
                   " owner_id int, qty int)")
        op.execute("INSERT INTO owner VALUES (1)")
        op.execute("INSERT INTO item VALUES (1, 'a', 1, 1), (2, 'b', 1, 2)")
        """,
    )
    maria.alembic("upgrade", "s0")
    unsafe, safe = MARIADB_CASES[rule]
    write_case(maria, unsafe)
    message = maria.alembic("upgrade", "head", ok=False).stdout
    assert f"[{rule}] Revision s1 (" in message, message
    assert "so nothing was run" in message
    versions = query(maria, "SELECT version_num FROM alembic_version")
    assert versions == [("s0",)]
    if safe is None:
        fired = sorted(set(re.findall(r"^\[([a-z-]+)\] ", message, re.MULTILINE)))
        reasons = ", ".join(f"{r!r}: 'checked with the DBA, 2026-12-01'" for r in fired)
        write_case(maria, unsafe, f"migration_checks_skip = {{{reasons}}}\n")
    else:
        write_case(maria, safe)
    maria.alembic("upgrade", "head")
    assert query(maria, "SELECT version_num FROM alembic_version") == [("s1",)]


def test_a_bad_autogenerate_setting_is_refused(blog: Project) -> None:
    assert blog.failure("-x", "migration_checks_autogenerate=perhaps", "current") == (
        "migration_checks_autogenerate = 'perhaps' (from -x"
        " migration_checks_autogenerate=...) is not a boolean. Set"
        " migration_checks_autogenerate = true (the default: autogenerate writes"
        " the safe forms on PostgreSQL) or false (Alembic's plain rendering)."
    )


@pytest.mark.parametrize("rows", ["-1"])
def test_a_bad_min_rows_is_refused(blog: Project, rows: str) -> None:
    """(The other values: tests/unit/test_setting_messages.py.)"""
    assert blog.failure("-x", f"migration_checks_min_rows={rows}", "current") == (
        f"migration_checks_min_rows = {rows!r} (from -x"
        " migration_checks_min_rows=...) is not a whole number, 0 or more. Set"
        " migration_checks_min_rows to the fewest rows a table must have for a"
        " finding to stop the run, for example migration_checks_min_rows = 10000."
    )


def write_with_downgrade(
    project: Project, revision: str, down: str | None, upgrade: str, downgrade: str
) -> None:
    """A revision with ``upgrade`` and ``downgrade`` bodies, as autogenerate
    writes them (sa and postgresql imported).
    """
    path = write_revision(project, revision, down, upgrade)
    body = textwrap.indent(textwrap.dedent(downgrade).strip(), "    ")
    source = path.read_text().replace("def downgrade():\n    pass\n", "")
    path.write_text(IMPORTS + source + f"def downgrade():\n{body}\n")


#: A table and its index, made and undone the way autogenerate writes it.
FRESH_TABLE = (
    """
    op.create_table("fresh", sa.Column("id", sa.Integer(), primary_key=True),
                    sa.Column("name", sa.String(20)), sa.Column("qty", sa.Integer()))
    op.create_index(op.f("ix_fresh_name"), "fresh", ["name"], unique=False)
    op.execute("INSERT INTO fresh SELECT g, 'n', g FROM generate_series(1, 100) g")
    op.execute("ANALYZE fresh")
    """,
    """
    op.drop_index(op.f("ix_fresh_name"), table_name="fresh")
    op.drop_table("fresh")
    """,
)


@pytest.mark.postgresql
def test_a_downgrade_drops_the_indexes_of_a_table_it_drops(pg: Project) -> None:
    """Issue 23: every autogenerated downgrade that drops a table drops its
    indexes first, which were refused. A table the run drops later (in the
    same revision or a later one) is exempt; an index dropped from a table
    that stays is not.
    """
    write_with_downgrade(pg, "s1", None, *FRESH_TABLE)
    write_with_downgrade(
        pg,
        "s2",
        "s1",
        'op.create_index("ix_fresh_qty", "fresh", ["qty"])',
        'op.drop_index("ix_fresh_qty", table_name="fresh")',
    )
    pg.alembic("upgrade", "head")
    message = pg.alembic("downgrade", "s1", ok=False).stdout
    assert "[require-concurrent-index-deletion] Revision s2 (" in message
    assert "on table 'fresh', about 100 rows" in message

    result = pg.alembic("downgrade", "base")
    assert "Running downgrade s1 -> " in result.stderr
    assert query(pg, "SELECT to_regclass('fresh') IS NULL") == [(True,)]


@pytest.mark.postgresql
def test_drop_index_without_its_table_is_judged_on_the_index_table(
    pg: Project, postgresql_databases: Callable[[], str]
) -> None:
    """``op.drop_index("ix")`` names no table: it is the table of the index
    the run created (new: exempt, on an empty database), or the one the
    database's catalogue says (an existing table: refused, with the table
    named in the finding and its fix).
    """
    write_with_downgrade(pg, "s1", None, *FRESH_TABLE)
    write_with_downgrade(pg, "s2", "s1", 'op.drop_index("ix_fresh_name")', "pass")
    pg.alembic("upgrade", "s1")
    message = pg.alembic("upgrade", "head", ok=False).stdout
    assert (
        "[require-concurrent-index-deletion] Revision s2 (" in message
        and "on table 'fresh', about 100 rows" in message
    ), message
    assert "op.drop_index('ix_fresh_name', table_name='fresh'," in message

    empty = postgresql_databases()
    pg.env["BLOGAPP_DATABASE_URI"] = empty
    pg.server_url = empty
    pg.alembic("upgrade", "head")
    assert query(pg, "SELECT version_num FROM alembic_version") == [("s2",)]


@pytest.mark.postgresql
def test_the_facts_of_a_schema_qualified_table_are_its_own(started: Project) -> None:
    """``schema="other"``: the rows of other.item (5,000), not those of the
    default schema's item (2), which migration_checks_min_rows would wave
    through. The types of a class given as existing_type read as SQL.
    """
    write_revision(
        started,
        "s1",
        "s0",
        """
        op.execute("CREATE SCHEMA other")
        op.execute("CREATE TABLE other.item (id integer PRIMARY KEY, qty integer)")
        op.execute("INSERT INTO other.item SELECT g, g FROM generate_series(1, 5000) g")
        op.execute("ANALYZE other.item")
        """,
    )
    started.alembic("upgrade", "s1")
    path = write_revision(
        started,
        "s2",
        "s1",
        'op.alter_column("item", "qty", type_=sa.BigInteger(),'
        ' existing_type=sa.Integer, schema="other")',
    )
    path.write_text(IMPORTS + path.read_text())
    message = started.alembic(
        "-x", "migration_checks_min_rows=1000", "upgrade", "head", ok=False
    ).stdout
    assert (
        "[changing-column-type] Revision s2 (" in message
        and "on table 'other.item', about 5,000 rows: Changing the type of 'qty'"
        " from INTEGER to BIGINT rewrites the table"
        in message
    ), message
    assert query(started, "SELECT version_num FROM alembic_version") == [("s1",)]


@pytest.mark.postgresql
def test_a_type_given_as_a_class_reads_as_sql(started: Project) -> None:
    write_case(
        started,
        'op.alter_column("item", "name", type_=sa.String(20), existing_type=sa.String)',
    )
    message = started.alembic("upgrade", "head", ok=False).stdout
    assert "Changing the type of 'name' from VARCHAR to VARCHAR(20) rewrites" in (
        message
    ), message
    assert "<class" not in message


@pytest.mark.mariadb
def test_a_stored_generated_column_is_refused_with_the_mysql_advice(
    maria: Project,
) -> None:
    write_revision(
        maria,
        "s0",
        None,
        """
        op.execute("CREATE TABLE item (id int PRIMARY KEY, qty int)")
        op.execute("INSERT INTO item VALUES (1, 1), (2, 2)")
        """,
    )
    maria.alembic("upgrade", "s0")
    write_case(maria, MARIADB_CASES["adding-stored-generated-column"][0])
    message = maria.alembic("upgrade", "head", ok=False).stdout
    assert (
        "[adding-stored-generated-column] Revision s1 (" in message
        and "Adding a STORED generated column copies the table on MySQL/MariaDB"
        " (ALGORITHM=COPY) under a lock that blocks writes for the whole copy."
        " Instead: add it VIRTUAL (sa.Computed(..., persisted=False))"
        in message
    ), message
    # Left to MySQL's default (VIRTUAL), it is added in place: no finding.
    write_case(
        maria,
        'op.add_column("item", sa.Column("double", sa.Integer(),'
        ' sa.Computed("qty * 2")))',
    )
    maria.alembic("upgrade", "head")
    assert query(maria, "SELECT `double` FROM item ORDER BY id") == [(2,), (4,)]


@pytest.mark.mariadb
def test_the_facts_of_a_table_of_another_database_are_its_own(
    maria: Project, mariadb_databases: Callable[[], str]
) -> None:
    """``schema="other"`` is another database on MariaDB: its item's rows
    (5,000), not those of the current database's item (2).
    """
    other = make_url(mariadb_databases()).database
    write_revision(
        maria,
        "s0",
        None,
        f"""
        op.execute("CREATE TABLE item (id int PRIMARY KEY, qty int)")
        op.execute("INSERT INTO item VALUES (1, 1), (2, 2)")
        op.execute("CREATE TABLE {other}.item (id int PRIMARY KEY, qty int)")
        op.execute("INSERT INTO {other}.item SELECT seq, seq FROM seq_1_to_5000")
        op.execute("ANALYZE TABLE item, {other}.item")
        """,
    )
    maria.alembic("upgrade", "s0")
    write_case(
        maria,
        'op.alter_column("item", "qty", type_=sa.BigInteger(),'
        f' existing_type=sa.Integer, schema="{other}")',
    )
    message = maria.alembic(
        "-x", "migration_checks_min_rows=1000", "upgrade", "head", ok=False
    ).stdout
    found = re.search(rf"on table '{other}\.item', about ([\d,]+) rows", message)
    assert found is not None, message
    assert int(found.group(1).replace(",", "")) >= 1000
    assert "from INTEGER to BIGINT copies the table" in message


@pytest.mark.postgresql
def test_an_autogenerated_downgrade_that_drops_tables_runs(pg: Project) -> None:
    """The issue's history: autogenerate writes each table's indexes
    dropped before the table in downgrade(); with rows in the tables, the
    downgrade runs.
    """
    models = pg.root / "blogapp" / "models.py"
    models.write_text(
        models.read_text().replace(
            "name = db.Column(db.String(50), nullable=False)",
            "name = db.Column(db.String(50), nullable=False, index=True)",
        )
    )
    pg.alembic("revision", "--autogenerate", "-m", "init")
    [revision] = pg.revision_files()
    downgrade = revision.read_text().split("def downgrade")[1]
    assert downgrade.index("op.drop_index(") < downgrade.index("op.drop_table('user')")
    pg.alembic("upgrade", "head")
    with other_session(pg) as session:
        session.execute(text("INSERT INTO \"user\" (name) VALUES ('a'), ('b')"))
        session.execute(text('ANALYZE "user"'))
        session.commit()
    result = pg.alembic("downgrade", "base")
    assert "require-concurrent-index-deletion" not in pg.output(result)
    assert query(pg, "SELECT to_regclass('\"user\"') IS NULL") == [(True,)]


@pytest.mark.postgresql
def test_a_revision_slow_to_record_outlives_idle_session_timeout(pg: Project) -> None:
    """PostgreSQL ends sessions idle (outside a transaction) for 2 s; the
    checks record a revision that spends 3 s in upgrade() first. The run
    connects again and applies it (in its transaction, which that timeout
    does not end).
    """
    pg.env["BLOGAPP_CONNECT_ARGS"] = json.dumps(
        {"options": "-c idle_session_timeout=2000"}
    )
    path = write_revision(
        pg,
        "s1",
        None,
        """
        time.sleep(3)
        op.execute("CREATE TABLE slow (id integer PRIMARY KEY)")
        """,
    )
    path.write_text("import time\n\n" + path.read_text())
    result = pg.alembic("upgrade", "head")
    assert (
        "The server closed the migration connection while the revisions were"
        " checked (" in result.stderr
    )
    assert "idle-session timeout" in result.stderr
    assert query(pg, "SELECT version_num FROM alembic_version") == [("s1",)]
