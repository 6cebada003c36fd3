"""A CHECK constraint validated at once scans the table under ACCESS EXCLUSIVE."""

from __future__ import annotations

from ..changes import Change
from ..facts import Facts
from .base import POSTGRESQL
from .base import Rule
from .base import Verdict


def _check(change: Change, facts: Facts) -> Verdict | None:
    if change.not_valid:
        return None
    name = change.name or "ck_name"
    return (
        "adding a CHECK constraint checks every row under an ACCESS EXCLUSIVE"
        " lock (no reads, no writes) for the whole scan.",
        "add it NOT VALID, then validate it (SHARE UPDATE EXCLUSIVE: writes go"
        f" on):\n    op.create_check_constraint({name!r}, {change.table!r}, ...,"
        " postgresql_not_valid=True)\n"
        f"    op.execute('ALTER TABLE {change.table} VALIDATE CONSTRAINT {name}')",
    )


RULE = Rule(
    "constraint-missing-not-valid",
    frozenset({"add_check"}),
    POSTGRESQL,
    _check,
    "a CHECK constraint validated at once (a full scan under ACCESS EXCLUSIVE)",
)
