"""DROP INDEX without CONCURRENTLY takes an ACCESS EXCLUSIVE lock."""

from __future__ import annotations

from ..changes import Change
from ..facts import Facts
from .base import POSTGRESQL
from .base import Rule
from .base import Verdict


def _check(change: Change, facts: Facts) -> Verdict | None:
    if change.concurrently:
        return None
    return (
        "DROP INDEX takes an ACCESS EXCLUSIVE lock on the table: it waits for"
        " every query on it to finish, and every query waits for it.",
        "drop it concurrently, outside the run's transaction:\n"
        "    with op.get_context().autocommit_block():\n"
        f"        op.drop_index({change.name or 'ix_name'!r},"
        f" table_name={change.table!r}, postgresql_concurrently=True)",
    )


RULE = Rule(
    "require-concurrent-index-deletion",
    frozenset({"drop_index"}),
    POSTGRESQL,
    _check,
    "an index dropped without CONCURRENTLY (ACCESS EXCLUSIVE)",
)
