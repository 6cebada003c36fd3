"""CREATE INDEX without CONCURRENTLY blocks every write to the table."""

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
        "CREATE INDEX takes a SHARE lock on the table for the whole build,"
        " which grows with its rows: every INSERT, UPDATE and DELETE of the app"
        " waits until the index is built.",
        "build it concurrently, outside the run's transaction:\n"
        "    with op.get_context().autocommit_block():\n"
        f"        op.create_index({change.name or 'ix_name'!r}, {change.table!r},"
        " [...], postgresql_concurrently=True)",
    )


RULE = Rule(
    "require-concurrent-index-creation",
    frozenset({"create_index"}),
    POSTGRESQL,
    _check,
    "an index built without CONCURRENTLY (SHARE lock: writes wait for the build)",
)
