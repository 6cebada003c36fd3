"""The rule table: ids, the docs' sections, the type changes that need no
rewrite (PostgreSQL) or no copy (MySQL/MariaDB); the size of a table never
analysed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from alembic_flask_env.checks.changes import Change
from alembic_flask_env.checks.facts import Facts
from alembic_flask_env.checks.facts import average_width
from alembic_flask_env.checks.facts import estimated_rows
from alembic_flask_env.checks.rules import RULE_IDS
from alembic_flask_env.checks.rules import RULES
from alembic_flask_env.checks.rules.changing_column_type import in_place_on_mysql
from alembic_flask_env.checks.rules.changing_column_type import no_rewrite

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_every_rule_has_a_unique_id_and_a_section_in_the_docs() -> None:
    """The docs' rule sections are made from RULES by the directive (which
    fails the docs build for a rule without an unsafe and a safe case), so
    the page only has to use it.
    """
    assert len(RULE_IDS) == len(RULES)
    page = (DOCS / "safe-migrations.md").read_text(encoding="utf-8")
    assert "safe-migration-rules" in page
    extension = (DOCS / "_ext" / "afe_docs.py").read_text(encoding="utf-8")
    assert "for rule in RULES:" in extension


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
        # The same type, as the database and SQLAlchemy spell it.
        ("numeric(10,2)", "numeric(10, 2)", True),
        ("integer", "integer", True),
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


@pytest.mark.parametrize(
    ("old", "new", "per_character", "in_place"),
    [
        # utf8mb4: 63 characters are 252 bytes, one length byte; 64 need two.
        ("varchar(60)", "varchar(63)", 4, True),
        ("varchar(60)", "varchar(64)", 4, False),
        ("varchar(100)", "varchar(300)", 4, True),
        ("varchar(128)", "varchar(256)", 1, False),
        ("varchar(128)", "varchar(255)", 1, True),
        ("varchar(300)", "varchar(200)", 4, False),
        ("varchar(50)", "text", 4, False),
        ("integer", "bigint", None, False),
        ("datetime", "datetime", None, True),
        # The character set unknown: only what holds for every one.
        ("varchar(20)", "varchar(60)", None, True),
        ("varchar(128)", "varchar(256)", None, False),
        ("varchar(300)", "varchar(400)", None, True),
    ],
)
def test_varchar_changes_mysql_makes_in_place(
    old: str, new: str, per_character: int | None, in_place: bool
) -> None:
    assert in_place_on_mysql(old, new, per_character) is in_place


def test_a_never_analysed_table_is_estimated_as_the_planner_does() -> None:
    """PostgreSQL 15's EXPLAIN of such a table of (integer, varchar(20))
    in UTF8 says width=62, 90 rows a page.
    """
    width = average_width(4, "int4", -1, 4) + average_width(-1, "varchar", 24, 4)
    assert width == 62
    assert estimated_rows(23, width) == 23 * 90
    assert average_width(-1, "text", -1, 4) == 32
    assert average_width(-1, "bpchar", 14, 1) == 14


def test_only_a_table_the_database_has_no_size_for_says_so() -> None:
    facts = Facts("postgresql", (15, 0), {"log": None, "item": 2}, frozenset({"o"}))
    assert facts.unknown_size("log") == (
        "size unknown (never analysed: run ANALYZE log)"
    )
    assert facts.unknown_size("item") == ""
    assert facts.unknown_size("missing") == ""
    assert facts.unknown_size("log", "third") == ""  # a schema not read
    assert Facts("postgresql").unknown_size("log") == ""  # offline
    mariadb = Facts("mariadb", (10, 11), {"o.log": None}, frozenset({"o"}))
    assert mariadb.unknown_size("log", "o") == (
        "size unknown (never analysed: run ANALYZE TABLE o.log)"
    )
