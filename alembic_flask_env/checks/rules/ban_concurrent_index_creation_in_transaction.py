"""CONCURRENTLY cannot run inside a transaction block, and a run is one."""

from __future__ import annotations

from ..changes import Change
from ..facts import Facts
from .base import POSTGRESQL
from .base import Rule
from .base import Verdict


def _check(change: Change, facts: Facts) -> Verdict | None:
    if not change.concurrently or change.in_autocommit_block:
        return None
    verb = "CREATE" if change.kind == "create_index" else "DROP"
    return (
        f"{verb} INDEX CONCURRENTLY inside the migration's transaction fails"
        " (PostgreSQL refuses it in a transaction block), after the revisions"
        " before it ran.",
        "run it in an autocommit block:\n"
        "    with op.get_context().autocommit_block():\n"
        "        op.create_index(..., postgresql_concurrently=True)",
    )


RULE = Rule(
    "ban-concurrent-index-creation-in-transaction",
    frozenset({"create_index", "drop_index"}),
    POSTGRESQL,
    _check,
    "CONCURRENTLY inside the run's transaction (PostgreSQL refuses it)",
    exempt_new_tables=False,
)
