"""A UNIQUE constraint builds its index under ACCESS EXCLUSIVE."""

from __future__ import annotations

from ..changes import Change
from ..facts import Facts
from .base import POSTGRESQL
from .base import Rule
from .base import Verdict


def _check(change: Change, facts: Facts) -> Verdict | None:
    name = change.name or "uq_name"
    return (
        "adding a UNIQUE constraint builds its index under an ACCESS EXCLUSIVE"
        " lock (no reads, no writes) for the whole build.",
        "build the index concurrently, then attach it:\n"
        "    with op.get_context().autocommit_block():\n"
        f"        op.create_index({name!r}, {change.table!r},"
        f" {change.arguments()}, unique=True, postgresql_concurrently=True)\n"
        f"    op.execute('ALTER TABLE {change.table} ADD CONSTRAINT {name} UNIQUE"
        f" USING INDEX {name}')",
    )


RULE = Rule(
    "disallowed-unique-constraint",
    frozenset({"add_unique"}),
    POSTGRESQL,
    _check,
    "a UNIQUE constraint (its index built under ACCESS EXCLUSIVE)",
)
