"""What real apps' revisions do while the checks record them before a run:
create a PostgreSQL enum type through ``op.get_bind()`` (ihatemoney), and
an online upgrade's log, which must read as an online upgrade (microblog).
"""

from __future__ import annotations

import pytest

from harness import Project
from harness import query
from harness import write_revision

#: An existing, used table: "item", with rows.
SETUP = """
op.execute("CREATE TABLE item (id integer PRIMARY KEY, name varchar(50))")
op.execute("INSERT INTO item VALUES (1, 'a'), (2, 'b')")
op.execute("ANALYZE item")
"""

#: The standard way to create the type a new enum column needs (Alembic's
#: add_column does not create it): ihatemoney's 7a9b38559992 does this.
ENUM_THEN_COLUMN = """
sa.Enum("a", "b", name="kind").create(op.get_bind(), checkfirst=True)
op.add_column(
    "item", sa.Column("kind", sa.Enum(name="kind"), nullable={nullable})
)
"""


@pytest.fixture
def started(pg: Project) -> Project:
    write_revision(pg, "s0", None, SETUP)
    pg.alembic("upgrade", "s0")
    return pg


def write_enum_revision(project: Project, body: str) -> str:
    path = write_revision(project, "s1", "s0", body)
    path.write_text("import sqlalchemy as sa\n" + path.read_text())
    return str(path)


@pytest.mark.postgresql
def test_an_enum_created_through_the_bind_is_recorded_and_the_rest_checked(
    started: Project,
) -> None:
    """The type's creation does not stop the recording: the NOT NULL
    column after it, on a table with rows, is refused; nullable, the
    revision runs and the type exists.
    """
    path = write_enum_revision(started, ENUM_THEN_COLUMN.format(nullable=False))
    result = started.alembic("upgrade", "head", ok=False)
    output = started.output(result)
    assert "could not be checked to its end" not in output, output
    assert result.stdout.startswith("FAILED: "), output
    assert f"[adding-required-field] Revision s1 ({path}, line 12)" in result.stdout
    assert "so nothing was run" in result.stdout
    assert query(started, "SELECT typname FROM pg_type WHERE typname = 'kind'") == []

    write_enum_revision(started, ENUM_THEN_COLUMN.format(nullable=True))
    output = started.output(started.alembic("upgrade", "head"))
    assert "could not be checked" not in output, output
    assert query(
        started,
        "SELECT enumlabel FROM pg_enum JOIN pg_type ON pg_type.oid = enumtypid"
        " WHERE typname = 'kind' ORDER BY enumsortorder",
    ) == [("a",), ("b",)]
    assert query(
        started,
        "SELECT udt_name FROM information_schema.columns"
        " WHERE table_name = 'item' AND column_name = 'kind'",
    ) == [("kind",)]


@pytest.mark.postgresql
def test_a_table_created_through_the_bind_is_a_new_table(started: Project) -> None:
    """``sa.Table(...).create(op.get_context().bind)`` makes a new table:
    a required column added to it is not a finding; the drop of a type,
    checkfirst or not, is recorded and runs.
    """
    write_enum_revision(
        started,
        """
        tag = sa.Table(
            "tag",
            sa.MetaData(),
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("colour", sa.Enum("red", "blue", name="colour")),
        )
        tag.create(op.get_context().bind, checkfirst=True)
        op.add_column("tag", sa.Column("name", sa.Text(), nullable=False))
        sa.Enum(name="unused").create(op.get_bind())
        sa.Enum(name="unused").drop(op.get_bind(), checkfirst=True)
        """,
    )
    output = started.output(started.alembic("upgrade", "head"))
    assert "could not be checked" not in output, output
    assert "[adding-required-field]" not in output, output
    assert query(
        started,
        "SELECT column_name, udt_name FROM information_schema.columns"
        " WHERE table_name = 'tag' ORDER BY ordinal_position",
    ) == [("id", "int4"), ("colour", "colour"), ("name", "text")]
    assert query(started, "SELECT 1 FROM pg_type WHERE typname = 'unused'") == []


@pytest.mark.postgresql
def test_an_online_upgrade_logs_as_one(started: Project) -> None:
    """The checks' recording contexts (offline ones) say nothing at INFO:
    the log tells of the real run's context only, once. ``--sql`` still
    says it generates static SQL.
    """
    write_revision(started, "s1", "s0", 'op.execute("SELECT 1")')
    write_revision(started, "s2", "s1", 'op.execute("SELECT 2")')
    log = started.alembic("upgrade", "head").stderr
    assert log.count("Generating static SQL") == 0, log
    assert log.count("Context impl PostgresqlImpl.") == 1, log
    assert log.count("Will assume transactional DDL.") == 1, log
    assert "Running upgrade s0 -> s1" in log and "Running upgrade s1 -> s2" in log

    offline = started.alembic("upgrade", "s0:head", "--sql")
    assert offline.stderr.count("Generating static SQL") == 1, offline.stderr
    assert offline.stderr.count("Context impl PostgresqlImpl.") == 1
