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
    name = change.name or "ix_name"
    return (
        "CREATE INDEX takes a SHARE lock on the table for the whole build,"
        " which grows with its rows: every INSERT, UPDATE and DELETE of the app"
        " waits until the index is built.",
        "build it concurrently, outside the run's transaction (dropping first"
        " what an interrupted build of it left behind, so that the revision"
        " can run again after a kill):\n"
        "    with op.get_context().autocommit_block():\n"
        f"        op.drop_index({name!r}, table_name={change.table!r},"
        " if_exists=True, postgresql_concurrently=True)\n"
        f"        op.create_index({name!r}, {change.table!r},"
        f" {change.arguments()}, postgresql_concurrently=True)",
    )


RULE = Rule(
    "require-concurrent-index-creation",
    frozenset({"create_index"}),
    POSTGRESQL,
    _check,
    "an index built without CONCURRENTLY (SHARE lock: writes wait for the build)",
)
