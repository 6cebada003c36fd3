"""How a whole run is judged: tables a later step drops, indexes dropped
without their table, schema-qualified tables, types given as classes,
stored generated columns per dialect, the database's column types for a
type change that does not say the type before. In process, no database:
the facts are written out as a database would give them.
"""

from __future__ import annotations

import types
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from alembic_flask_env.checks.facts import Facts
from alembic_flask_env.checks.facts import LiveColumn
from alembic_flask_env.checks.facts import with_live_types
from alembic_flask_env.checks.run import check_revisions
from alembic_flask_env.checks.run import judge
from alembic_flask_env.checks.run import record_revisions


def revision(tmp_path: Path, name: str, upgrade: str, downgrade: str = "pass") -> Any:
    """A stand-in for Alembic's Script: its revision, path and module."""
    source = (
        "from alembic import op\nimport sqlalchemy as sa\n\n"
        f"def upgrade():\n    {upgrade}\n\n"
        f"def downgrade():\n    {downgrade}\n"
    ).replace(";", "\n   ")
    path = tmp_path / f"{name}.py"
    path.write_text(source)
    module = types.ModuleType(name)
    exec(compile(source, str(path), "exec"), module.__dict__)
    return types.SimpleNamespace(revision=name, path=str(path), module=module)


def live(dialect: str = "postgresql", **rows: int) -> Facts:
    """The facts of a database with these tables (and their rows), and
    ix_t on t, ix_o on other.t.
    """
    table_rows: dict[str, int | None] = {
        name.replace("__", "."): n for name, n in rows.items()
    }
    return Facts(
        dialect,
        (16, 0),
        table_rows,
        frozenset({"other"}),
        {"ix_t": "t", "other.ix_o": "t"},
    )


def found(findings: list[Any]) -> list[tuple[str, str | None, int | None]]:
    return [(f.rule, f.table, f.rows) for f in findings]


def test_indexes_of_a_table_a_later_step_drops_are_exempt(tmp_path: Path) -> None:
    both = revision(
        tmp_path,
        "r1",
        "pass",
        "op.drop_index('ix_t', table_name='t'); op.drop_table('t')",
    )
    assert found(check_revisions([(both, "downgrade")], live(t=500))) == []
    # Across revisions of one run, looking ahead.
    index = revision(tmp_path, "r2", "pass", "op.drop_index('ix_u', table_name='u')")
    table = revision(tmp_path, "r3", "pass", "op.drop_table('u')")
    run = [(index, "downgrade"), (table, "downgrade")]
    assert found(check_revisions(run, live(u=500))) == []
    # The index alone: the table stays, the rule holds.
    assert found(check_revisions(run[:1], live(u=500))) == [
        ("require-concurrent-index-deletion", "u", 500)
    ]


def test_a_table_renamed_before_a_same_named_drop_is_not_exempt(
    tmp_path: Path,
) -> None:
    """The t dropped last is a new one: the old t was renamed, and lives on."""
    script = revision(
        tmp_path,
        "r1",
        "op.drop_index('ix_t', table_name='t'); op.rename_table('t', 'u');"
        " op.create_table('t', sa.Column('id', sa.Integer()));"
        " op.drop_table('t')",
    )
    rules = [f[0] for f in found(check_revisions([(script, "upgrade")], live(t=5)))]
    assert rules == ["require-concurrent-index-deletion", "renaming-table"]


def test_drop_index_without_a_table_takes_its_index_table(tmp_path: Path) -> None:
    by_catalogue = revision(tmp_path, "r1", "op.drop_index('ix_t')")
    assert found(check_revisions([(by_catalogue, "upgrade")], live(t=7))) == [
        ("require-concurrent-index-deletion", "t", 7)
    ]
    by_run = revision(
        tmp_path,
        "r2",
        "op.create_table('n', sa.Column('a', sa.Integer()));"
        " op.create_index('ix_n', 'n', ['a']); op.drop_index('ix_n')",
    )
    assert found(check_revisions([(by_run, "upgrade")], live(t=7))) == []
    # An index of another schema is that schema's.
    other = revision(tmp_path, "r3", "op.drop_index('ix_o', schema='other')")
    assert found(check_revisions([(other, "upgrade")], live(t=7, other__t=70))) == [
        ("require-concurrent-index-deletion", "other.t", 70)
    ]


def test_a_schema_qualified_table_has_its_own_facts(tmp_path: Path) -> None:
    script = revision(
        tmp_path,
        "r1",
        "op.alter_column('t', 'a', type_=sa.BigInteger(),"
        " existing_type=sa.Integer, schema='other')",
    )
    findings = check_revisions([(script, "upgrade")], live(t=2, other__t=5000))
    assert found(findings) == [("changing-column-type", "other.t", 5000)]
    assert "from INTEGER to BIGINT rewrites" in findings[0].message
    # A schema that was not read: unknown, so taken to exist and be large.
    unread = revision(
        tmp_path, "r2", "op.alter_column('t', 'a', type_=sa.Text(), schema='third')"
    )
    assert found(check_revisions([(unread, "upgrade")], live(t=2))) == [
        ("changing-column-type", "third.t", None)
    ]
    # A table of that schema missing from the facts does not exist yet.
    assert found(check_revisions([(script, "upgrade")], live(t=2))) == []


@pytest.mark.parametrize(
    ("dialect", "persisted", "flagged"),
    [
        ("postgresql", "", True),
        ("postgresql", ", persisted=True", True),
        ("mariadb", "", False),
        ("mariadb", ", persisted=False", False),
        ("mariadb", ", persisted=True", True),
        ("mysql", ", persisted=True", True),
    ],
)
def test_stored_generated_columns_per_dialect(
    tmp_path: Path, dialect: str, persisted: str, flagged: bool
) -> None:
    script = revision(
        tmp_path,
        "r1",
        "op.add_column('t', sa.Column('d', sa.Integer(),"
        f" sa.Computed('a * 2'{persisted})))",
    )
    rules = [f.rule for f in check_revisions([(script, "upgrade")], live(dialect, t=9))]
    assert ("adding-stored-generated-column" in rules) is flagged


def judged_with_live_types(run: list[tuple[Any, str]], facts: Facts) -> list[Any]:
    """As the run judges: the database's types filled in first."""
    steps = record_revisions(run, facts.dialect)
    changes = with_live_types([step.change for step in steps], facts)
    steps = [replace(s, change=c) for s, c in zip(steps, changes, strict=True)]
    return judge(steps, facts)


def test_a_type_change_without_existing_type_takes_the_database_type(
    tmp_path: Path,
) -> None:
    widen = revision(tmp_path, "r1", "op.alter_column('t', 'a', type_=sa.String(256))")
    facts = live(t=5000)
    facts.columns[("t", "a")] = LiveColumn("varchar(128)")
    assert judged_with_live_types([(widen, "upgrade")], facts) == []
    narrow = revision(tmp_path, "r2", "op.alter_column('t', 'a', type_=sa.String(6))")
    [finding] = judged_with_live_types([(narrow, "upgrade")], facts)
    assert "from VARCHAR(128) to VARCHAR(6) rewrites" in finding.message
    # Without the facts (offline) the hint stays.
    [offline] = check_revisions([(widen, "upgrade")], Facts("postgresql"))
    assert "(pass existing_type= to alter_column" in offline.message


def test_a_column_changed_earlier_in_the_run_has_that_type(tmp_path: Path) -> None:
    first = revision(
        tmp_path,
        "r1",
        "op.alter_column('t', 'a', type_=sa.Integer(), existing_type=sa.String(9))",
    )
    second = revision(tmp_path, "r2", "op.alter_column('t', 'a', type_=sa.String(99))")
    facts = live(t=5000)
    facts.columns[("t", "a")] = LiveColumn("varchar(9)")
    findings = judged_with_live_types([(first, "upgrade"), (second, "upgrade")], facts)
    assert [f.message.split(" rewrites")[0] for f in findings] == [
        "Changing the type of 'a' from VARCHAR(9) to INTEGER",
        "Changing the type of 'a' from INTEGER to VARCHAR(99)",
    ]


def test_a_column_renamed_or_of_a_renamed_table_has_no_known_type(
    tmp_path: Path,
) -> None:
    """Its name is another column's, or another table's, in the database."""
    facts = live(t=5000, u=5000)
    facts.columns[("t", "a")] = LiveColumn("varchar(9)")
    facts.columns[("u", "a")] = LiveColumn("varchar(9)")
    for body in (
        "op.alter_column('t', 'a', new_column_name='b');"
        " op.alter_column('t', 'b', new_column_name='a')",
        "op.rename_table('t', 'v'); op.rename_table('u', 't')",
    ):
        script = revision(
            tmp_path, "r1", body + "; op.alter_column('t', 'a', type_=sa.String(99))"
        )
        findings = judged_with_live_types([(script, "upgrade")], facts)
        [typed] = [f for f in findings if f.rule == "changing-column-type"]
        assert "to VARCHAR(99) (pass existing_type=" in typed.message


@pytest.mark.parametrize(
    ("live_column", "flagged"),
    [
        (LiveColumn("varchar(60)", 4), False),
        (LiveColumn("varchar(60)", 1), False),
        # A latin1 column of a utf8mb4 table: MODIFY converts it, a copy.
        (LiveColumn("varchar(60)", 1, keeps_collation=False), True),
    ],
)
def test_a_varchar_widened_in_place_on_mariadb(
    tmp_path: Path, live_column: LiveColumn, flagged: bool
) -> None:
    script = revision(tmp_path, "r1", "op.alter_column('t', 'a', type_=sa.String(63))")
    facts = live("mariadb", t=5000)
    facts.columns[("t", "a")] = live_column
    findings = judged_with_live_types([(script, "upgrade")], facts)
    assert bool(findings) is flagged
