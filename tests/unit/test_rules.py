"""The rule table: ids, the README's list, the type changes that need no
rewrite.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from alembic_flask_env.checks.changes import Change
from alembic_flask_env.checks.facts import Facts
from alembic_flask_env.checks.rules import RULE_IDS
from alembic_flask_env.checks.rules import RULES
from alembic_flask_env.checks.rules.changing_column_type import no_rewrite

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_rule_has_a_unique_id_and_is_in_the_readme() -> None:
    assert len(RULE_IDS) == len(RULES)
    text = README.read_text(encoding="utf-8")
    table = text[text.index("## Safe migrations") :]
    for rule in RULES:
        assert f"| `{rule.id}` |" in table, rule.id


@pytest.mark.parametrize(
    ("old", "new", "safe"),
    [
        ("varchar(50)", "varchar(100)", True),
        ("varchar(50)", "text", True),
        ("varchar(50)", "varchar", True),
        ("varchar(100)", "varchar(50)", False),
        ("varchar", "varchar(50)", False),
        ("numeric(10, 2)", "numeric(12, 2)", True),
        ("numeric(10, 2)", "numeric(12, 3)", False),
        ("numeric(10, 2)", "numeric", True),
        ("cidr", "inet", True),
        ("integer", "bigint", False),
        ("text", "varchar(10)", False),
    ],
)
def test_type_changes_that_need_no_rewrite(old: str, new: str, safe: bool) -> None:
    assert no_rewrite(old, new) is safe


@pytest.mark.parametrize(
    ("default", "fires"),
    [("", True), ("''", False), ("0", False), ("now()", False)],
)
def test_an_empty_string_default_is_a_default(default: str, fires: bool) -> None:
    """``server_default=''`` reaches the rule as the SQL literal ``''``:
    the column has a default, and adding it NOT NULL is safe.
    """
    [rule] = [rule for rule in RULES if rule.id == "adding-required-field"]
    change = Change(
        "add_column", "item", "r.py", 3, "r", name="a", not_null=True, default=default
    )
    assert (rule.check(change, Facts("postgresql")) is not None) == fires
