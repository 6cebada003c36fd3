"""A marked revision's ops, recorded with the checks' machinery, as steps;
what cannot be phased is refused with its line.
"""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any

import pytest

from alembic_flask_env.checks.recording import record
from alembic_flask_env.errors import ExpandContractRefused
from alembic_flask_env.expand.plan import Step
from alembic_flask_env.expand.plan import plan_of

HEAD = "from alembic import op\nimport sqlalchemy as sa\n\nexpand_contract = True\n"


def revision(tmp_path: Path, source: str) -> Any:
    """Alembic's Script as the recording reads it: revision, path, module
    (the same stand-in tests/unit/test_check_changes.py uses).
    """
    path = tmp_path / "b2.py"
    path.write_text(HEAD + source)
    module = types.ModuleType("b2")
    exec(compile(HEAD + source, str(path), "exec"), module.__dict__)
    return types.SimpleNamespace(revision="b2", path=str(path), module=module)


def steps(tmp_path: Path, source: str) -> list[Step]:
    script = revision(tmp_path, source)
    return plan_of(script, record(script, script.module.upgrade, "postgresql"))


def test_each_supported_op_is_a_step(tmp_path: Path) -> None:
    found = steps(
        tmp_path,
        'expand_contract_fill = {"account.score": "balance * 2"}\n'
        'expand_contract_down = {"account.balance": "balance::int"}\n'
        "def upgrade():\n"
        '    op.alter_column("account", "name", new_column_name="full_name")\n'
        '    op.alter_column("account", "balance", type_=sa.BigInteger(),'
        ' postgresql_using="balance::bigint")\n'
        '    op.alter_column("account", "note", nullable=False)\n'
        '    op.add_column("account", sa.Column("score", sa.Integer(),'
        " nullable=False))\n"
        '    op.drop_column("account", "legacy")\n'
        '    op.rename_table("ledger", "journal")\n',
    )
    assert [(s.kind, s.table, s.column, s.line) for s in found] == [
        ("rename_column", "account", "name", 8),
        ("retype", "account", "balance", 9),
        ("not_null", "account", "note", 10),
        ("add_not_null", "account", "score", 11),
        ("drop_column", "account", "legacy", 12),
        ("rename_table", "ledger", "", 13),
    ]
    assert found[1].type_sql == "BIGINT"
    assert found[1].up == "balance::bigint"
    assert found[1].down == "balance::int"
    assert found[2].fill is None
    assert found[3].fill == "balance * 2"
    assert found[5].new_name == "journal"


def test_a_type_change_without_using_casts(tmp_path: Path) -> None:
    [step] = steps(
        tmp_path,
        'def upgrade():\n    op.alter_column("t", "c", type_=sa.Text())\n',
    )
    assert step.up == 'CAST("c" AS TEXT)'
    assert step.down is None


def test_a_server_default_fills_an_added_column(tmp_path: Path) -> None:
    [step] = steps(
        tmp_path,
        "def upgrade():\n"
        '    op.add_column("t", sa.Column("c", sa.Integer(), nullable=False,'
        ' server_default="0"))\n',
    )
    assert step.fill == step.server_default == "'0'"


@pytest.mark.parametrize(
    ("body", "what", "line"),
    [
        (
            'op.create_index("ix", "t", ["c"])',
            "op.create_index() cannot be phased",
            6,
        ),
        ('op.execute("UPDATE t SET c = 1")', "op.execute() cannot be phased", 6),
        (
            'op.alter_column("t", "c", nullable=False, type_=sa.Text())',
            "op.alter_column(nullable, type_) cannot be phased",
            6,
        ),
        (
            'op.add_column("t", sa.Column("c", sa.Integer()))',
            "op.add_column() of a nullable column cannot be phased",
            6,
        ),
        (
            'op.add_column("t", sa.Column("c", sa.Integer(), nullable=False))',
            "op.add_column() adds NOT NULL column t.c with no value for the"
            " existing rows",
            6,
        ),
    ],
)
def test_what_cannot_be_phased_is_refused_with_its_line(
    tmp_path: Path, body: str, what: str, line: int
) -> None:
    with pytest.raises(ExpandContractRefused) as raised:
        steps(tmp_path, f"def upgrade():\n    {body}\n")
    assert str(raised.value).startswith(
        f"Revision b2 is marked expand_contract = True, and {what}"
        f" ({tmp_path / 'b2.py'}, line {line}); nothing ran. Fix: "
    )


def test_a_column_changed_twice_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ExpandContractRefused, match=r"t\.c is changed twice"):
        steps(
            tmp_path,
            "def upgrade():\n"
            '    op.alter_column("t", "c", type_=sa.Text())\n'
            '    op.alter_column("t", "c", new_column_name="d")\n',
        )


def test_a_fill_that_is_not_a_dict_of_strings_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ExpandContractRefused) as raised:
        steps(
            tmp_path,
            'expand_contract_fill = ["t.c"]\n'
            'def upgrade():\n    op.drop_column("t", "c")\n',
        )
    assert str(raised.value) == (
        f"Revision b2 ({tmp_path / 'b2.py'}): expand_contract_fill = ['t.c'] is"
        ' not a dict of "table.column" to an SQL expression (a string), e.g.'
        ' expand_contract_fill = {"account.nickname": "lower(name)"}.'
    )
