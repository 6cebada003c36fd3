"""What a revision does with SQLAlchemy's own ``create(bind)`` /
``drop(bind)`` while recorded, and what recording logs: in process, no
database.
"""

from __future__ import annotations

import logging
import threading
import types
from pathlib import Path

import pytest
from alembic.operations import ops
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql.elements import ClauseElement

from alembic_flask_env.checks.changes import Change
from alembic_flask_env.checks.from_operations import changes_of
from alembic_flask_env.checks.recording import Recording
from alembic_flask_env.checks.recording import record

POSTGRESQL = postgresql.dialect()  # type: ignore[no-untyped-call]


def recording_of(tmp_path: Path, body: str, dialect: str = "postgresql") -> Recording:
    """``body`` as the upgrade() of a revision file, recorded."""
    source = (
        "from alembic import op\nimport sqlalchemy as sa\n\n"
        "def upgrade():\n" + "".join(f"    {line}\n" for line in body.splitlines())
    )
    path = tmp_path / "r1.py"
    path.write_text(source)
    module = types.ModuleType("r1")
    exec(compile(source, str(path), "exec"), module.__dict__)
    script = types.SimpleNamespace(revision="r1", path=str(path), module=module)
    recording = record(script, module.upgrade, dialect)  # type: ignore[arg-type]
    assert not recording.stopped, recording.stopped
    return recording


def changes(recording: Recording, dialect: str = "postgresql") -> list[Change]:
    return list(changes_of(recording, dialect))


def sent_sql(recording: Recording) -> list[str]:
    """The statements recorded as sent, as PostgreSQL gets them."""
    sent = []
    for recorded in recording.operations:
        operation = recorded.operation
        if isinstance(operation, ops.ExecuteSQLOp):
            assert isinstance(operation.sqltext, ClauseElement)
            sent.append(str(operation.sqltext.compile(dialect=POSTGRESQL)))
    return sent


@pytest.mark.parametrize(
    "bind", ["op.get_bind()", "op.get_context().bind", "op.get_context().connection"]
)
def test_an_enum_type_created_with_checkfirst_is_recorded_and_recording_goes_on(
    tmp_path: Path, bind: str
) -> None:
    recording = recording_of(
        tmp_path,
        f'sa.Enum("a", "b", name="kind").create({bind}, checkfirst=True)\n'
        'op.add_column("item", sa.Column("kind", sa.Enum(name="kind"),'
        " nullable=False))",
    )
    assert sent_sql(recording) == ["CREATE TYPE kind AS ENUM ('a', 'b')"]
    assert recording.operations[0].line == 5
    [added] = changes(recording)
    assert (added.kind, added.table, added.name, added.not_null, added.line) == (
        "add_column",
        "item",
        "kind",
        True,
        6,
    )


def test_a_dropped_type_is_recorded_as_dropped_checkfirst_or_not(
    tmp_path: Path,
) -> None:
    recording = recording_of(
        tmp_path,
        'sa.Enum(name="kind").drop(op.get_bind(), checkfirst=True)\n'
        "from sqlalchemy.dialects import postgresql\n"
        'postgresql.ENUM("x", name="mood", schema="app").create(op.get_bind())',
    )
    assert sent_sql(recording) == [
        "DROP TYPE kind",
        "CREATE TYPE app.mood AS ENUM ('x')",
    ]
    assert changes(recording) == []


@pytest.mark.parametrize("dialect", ["postgresql", "mysql"])
def test_tables_and_indexes_made_through_the_bind_are_their_operations(
    tmp_path: Path, dialect: str
) -> None:
    """On every database: a table created so is a new table, as
    ``op.create_table``'s (the run exempts it); its index, a drop, alike.
    """
    recording = recording_of(
        tmp_path,
        "tag = sa.Table('tag', sa.MetaData(), sa.Column('id', sa.Integer()),"
        " sa.Column('name', sa.Text(), index=True), schema='app')\n"
        "tag.create(op.get_bind(), checkfirst=True)\n"
        "sa.Index('ix_tag_id', tag.c.id).create(op.get_bind(), checkfirst=True)\n"
        "sa.Index('ix_tag_id', tag.c.id).drop(op.get_bind())\n"
        "tag.drop(op.get_bind(), checkfirst=True)",
        dialect,
    )
    assert [
        (c.kind, c.table, c.schema, c.name, c.line) for c in changes(recording, dialect)
    ] == [
        ("create_table", "tag", "app", "", 6),
        ("create_index", "tag", "app", "ix_app_tag_name", 6),
        ("create_index", "tag", "app", "ix_tag_id", 7),
        ("drop_index", "tag", "app", "ix_tag_id", 8),
        ("drop_table", "tag", "app", "", 9),
    ]


def test_a_metadata_created_through_the_bind_creates_its_types_and_tables(
    tmp_path: Path,
) -> None:
    recording = recording_of(
        tmp_path,
        "metadata = sa.MetaData()\n"
        "sa.Table('a', metadata, sa.Column('k', sa.Enum('x', name='k')))\n"
        "sa.Table('b', metadata, sa.Column('id', sa.Integer(),"
        " sa.Sequence('b_id')))\n"
        "metadata.create_all(op.get_bind())",
    )
    assert "CREATE TYPE k AS ENUM ('x')" in sent_sql(recording)
    assert "CREATE SEQUENCE b_id" in sent_sql(recording)
    assert [(c.kind, c.table) for c in changes(recording)] == [
        ("create_table", "a"),
        ("create_table", "b"),
    ]


def test_recording_logs_its_context_at_debug_only(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Alembic's "Generating static SQL" is about the recording's offline
    context, not the run: at INFO it is not said; at DEBUG it is, as DEBUG;
    after recording, the logger is as it was.
    """
    context_log = logging.getLogger("alembic.runtime.migration")
    caplog.set_level(logging.INFO, logger="alembic.runtime.migration")
    recording_of(tmp_path, "op.drop_table('t')")
    assert [r for r in caplog.records if r.name == context_log.name] == []
    context_log.info("the real run's context")
    assert [r.getMessage() for r in caplog.records] == ["the real run's context"]
    caplog.clear()

    caplog.set_level(logging.DEBUG, logger="alembic.runtime.migration")
    recording_of(tmp_path, "op.drop_table('t')")
    said = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert ("DEBUG", "Generating static SQL") in said
    assert {level for level, _ in said} == {"DEBUG"}
    assert context_log.filters == []


def test_another_threads_context_log_is_left_alone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A migration running in another thread while one records (tenants
    in parallel) keeps its INFO lines: the other thread logs while this
    one makes its recording context.
    """
    context_log = logging.getLogger("alembic.runtime.migration")
    caplog.set_level(logging.DEBUG, logger="alembic.runtime.migration")
    recorder = threading.get_ident()

    def other() -> None:
        context_log.info("other thread's context")

    class MeanwhileInAnotherThread(logging.Handler):
        # (handle, not emit: emit runs holding the handler's lock, which
        # the other thread's record would wait for.)
        def handle(self, record: logging.LogRecord) -> bool:
            if threading.get_ident() == recorder and not others:
                others.append(threading.Thread(target=other))
                others[0].start()
                others[0].join()
            return True

    others: list[threading.Thread] = []
    meanwhile = MeanwhileInAnotherThread()
    context_log.addHandler(meanwhile)
    try:
        recording_of(tmp_path, "op.drop_table('t')")
    finally:
        context_log.removeHandler(meanwhile)
    said = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert others and ("INFO", "other thread's context") in said
    assert said.count(("DEBUG", "Generating static SQL")) == 1
