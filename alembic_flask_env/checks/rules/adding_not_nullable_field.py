"""SET NOT NULL scans the whole table under ACCESS EXCLUSIVE."""

from __future__ import annotations

import re

from ..changes import Change
from ..facts import Facts
from .base import ALL
from .base import Rule
from .base import Verdict
from .base import or_phased


def _checked_first(change: Change, facts: Facts) -> bool:
    """Whether the revision first added a ``column IS NOT NULL`` check
    constraint and validated it in an autocommit block: PostgreSQL 12+ then
    sets NOT NULL without a scan.
    """
    if facts.postgresql_before(12):
        return False
    is_not_null = re.compile(
        rf"\b{re.escape(change.name)}\b\W*\s+is\s+not\s+null", re.I
    )
    checks = {
        earlier.name
        for earlier in facts.earlier
        if earlier.kind == "add_check"
        and earlier.table == change.table
        and is_not_null.search(earlier.condition)
    }
    # Validated outside the transaction that added it: in it, the scan
    # would run under the lock ADD CONSTRAINT took.
    return any(
        earlier.kind == "validate_constraint"
        and earlier.name in checks
        and earlier.in_autocommit_block
        for earlier in facts.earlier
    )


def _check(change: Change, facts: Facts) -> Verdict | None:
    column, table = change.name, change.table
    if facts.dialect == "postgresql" and _checked_first(change, facts):
        return None
    if facts.dialect != "postgresql":
        return (
            "making a column NOT NULL rebuilds the table on MySQL/MariaDB"
            " (ALGORITHM=COPY where INPLACE cannot be used), under a metadata"
            " lock that blocks writes for the whole copy.",
            "add the constraint in a maintenance window, or with an online"
            " schema change tool (gh-ost, pt-online-schema-change).",
        )
    return (
        "SET NOT NULL scans every row to check it, holding an ACCESS EXCLUSIVE"
        " lock (no reads, no writes) for the whole scan.",
        or_phased(
            "check it first without the lock, then set it (PostgreSQL 12+ uses the"
            " valid constraint and skips the scan):\n"
            f"    op.create_check_constraint('{column}_not_null', {table!r},"
            f" '{column} IS NOT NULL', postgresql_not_valid=True)\n"
            "    with op.get_context().autocommit_block():\n"
            f"        op.execute('ALTER TABLE {table} VALIDATE CONSTRAINT"
            f" {column}_not_null')\n"
            f"    op.alter_column({table!r}, {column!r}, nullable=False)\n"
            f"    op.drop_constraint('{column}_not_null', {table!r})\n",
            facts,
            f" (expand_contract_fill = {{'{table}.{column}': 'SQL'}} fills rows"
            " that have no value)",
        ),
    )


RULE = Rule(
    "adding-not-nullable-field",
    frozenset({"set_not_null"}),
    ALL,
    _check,
    "SET NOT NULL on an existing column (a full scan under ACCESS EXCLUSIVE;"
    " a table copy on MySQL)",
)
