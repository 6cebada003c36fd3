"""A NOT NULL column without a default cannot be added to a table with rows."""

from __future__ import annotations

from ..changes import Change
from ..facts import Facts
from .base import ALL
from .base import Rule
from .base import Verdict
from .base import or_phased


def _check(change: Change, facts: Facts) -> Verdict | None:
    if not change.not_null or change.default:
        return None
    if change.column_traits & {"auto_increment", "stored_generated"}:
        return None  # the database fills it in
    if facts.table_rows(change.table, change.schema) == 0 and facts.rows is not None:
        return None
    table, column = change.table, change.name
    return (
        "adding a NOT NULL column without a default fails on a table that has"
        " rows, and the code of the release still running does not fill it in.",
        or_phased(
            "add it nullable (or with a server_default), fill it, then set NOT"
            f" NULL:\n    op.add_column({table!r}, sa.Column({column!r},"
            " ..., nullable=True))",
            facts,
            f" and expand_contract_fill = {{'{table}.{column}': 'SQL'}} (the"
            " existing rows' value; it may name their columns)",
        ),
    )


RULE = Rule(
    "adding-required-field",
    frozenset({"add_column"}),
    ALL,
    _check,
    "a NOT NULL column without a default (fails on a table with rows)",
)
