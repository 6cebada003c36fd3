"""A constraint validated at once scans the table under a lock that blocks
the app: a CHECK (ACCESS EXCLUSIVE) or a foreign key (SHARE ROW EXCLUSIVE,
on both tables; :mod:`.adding_foreign_key_constraint` says how to add one).
squawk's rule of this name covers both (and UNIQUE, PRIMARY KEY and
exclusion constraints, which cannot be NOT VALID at all), and so does this one.
"""

from __future__ import annotations

from ..changes import Change
from ..facts import Facts
from .base import POSTGRESQL
from .base import Rule
from .base import Verdict


def _check(change: Change, facts: Facts) -> Verdict | None:
    if change.not_valid:
        return None
    if change.kind == "add_unique":
        return (
            "a UNIQUE constraint cannot be added NOT VALID: its index is built"
            " and every row checked under an ACCESS EXCLUSIVE lock.",
            "build a unique index concurrently, then attach it with ADD"
            " CONSTRAINT ... UNIQUE USING INDEX (see disallowed-unique-constraint).",
        )
    if change.kind == "add_primary_key":
        name = change.name or "pk_name"
        return (
            "a PRIMARY KEY cannot be added NOT VALID: its index is built and"
            " every row checked under an ACCESS EXCLUSIVE lock.",
            "build a unique index concurrently, then make it the primary key"
            " (its columns NOT NULL already):\n"
            "    with op.get_context().autocommit_block():\n"
            f"        op.create_index({name!r}, {change.table!r}, [...],"
            " unique=True, postgresql_concurrently=True)\n"
            f"    op.execute('ALTER TABLE {change.table} ADD CONSTRAINT {name}"
            f" PRIMARY KEY USING INDEX {name}')",
        )
    if change.kind == "add_exclusion":
        return (
            "an exclusion constraint cannot be added NOT VALID, so adding one"
            " checks every existing row under an ACCESS EXCLUSIVE lock.",
            "create the table with it, or add it in a maintenance window.",
        )
    if change.kind == "add_foreign_key":
        name = change.name or "fk_name"
        return (
            "adding a foreign key without NOT VALID checks every existing row"
            " while it holds its locks, so the app's writes wait for the scan.",
            f"add it NOT VALID, then VALIDATE CONSTRAINT {name} in an autocommit"
            " block (see adding-foreign-key-constraint).",
        )
    name = change.name or "ck_name"
    return (
        "adding a CHECK constraint checks every row under an ACCESS EXCLUSIVE"
        " lock (no reads, no writes) for the whole scan.",
        "add it NOT VALID, then validate it (SHARE UPDATE EXCLUSIVE: writes go"
        f" on):\n    op.create_check_constraint({name!r}, {change.table!r}, ...,"
        " postgresql_not_valid=True)\n"
        "    with op.get_context().autocommit_block():\n"
        f"        op.execute('ALTER TABLE {change.table} VALIDATE CONSTRAINT {name}')",
    )


RULE = Rule(
    "constraint-missing-not-valid",
    frozenset(
        {
            "add_check",
            "add_foreign_key",
            "add_unique",
            "add_primary_key",
            "add_exclusion",
        }
    ),
    POSTGRESQL,
    _check,
    "a constraint added without NOT VALID: a CHECK or foreign key validated at"
    " once, or a UNIQUE or exclusion constraint, which cannot be NOT VALID (a"
    " full scan under a lock that blocks the app)",
)
