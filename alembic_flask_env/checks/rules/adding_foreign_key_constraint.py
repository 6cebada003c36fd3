"""A foreign key validated at once scans both tables under SHARE ROW EXCLUSIVE."""

from __future__ import annotations

from ..changes import Change
from ..facts import Facts
from .base import ALL
from .base import Rule
from .base import Verdict


def _check(change: Change, facts: Facts) -> Verdict | None:
    if facts.dialect != "postgresql":
        settings = [e.kind for e in facts.earlier if e.kind.startswith("foreign_key_")]
        if settings and settings[-1] == "foreign_key_checks_off":
            return None
        return (
            "adding a foreign key copies the table on MySQL/MariaDB"
            " (ALGORITHM=COPY: INPLACE needs foreign_key_checks off) under a"
            " lock that blocks writes for the whole copy.",
            "add it with foreign_key_checks off, when the data is known to be"
            " consistent:\n    op.execute('SET SESSION foreign_key_checks = 0')\n"
            "    op.create_foreign_key(...)\n"
            "    op.execute('SET SESSION foreign_key_checks = 1')",
        )
    if change.not_valid:
        return None
    name = change.name or "fk_name"
    return (
        "adding a foreign key checks every row, holding SHARE ROW EXCLUSIVE"
        " locks on both tables: writes to either wait for the whole check.",
        "add it NOT VALID (new rows are checked at once), then validate it"
        " without blocking writes:\n"
        f"    op.create_foreign_key({name!r}, {change.table!r}, ...,"
        " postgresql_not_valid=True)\n"
        "    # (the commit releases ADD CONSTRAINT's lock before the scan)\n"
        "    with op.get_context().autocommit_block():\n"
        f"        op.execute('ALTER TABLE {change.table} VALIDATE CONSTRAINT {name}')",
    )


RULE = Rule(
    "adding-foreign-key-constraint",
    frozenset({"add_foreign_key"}),
    ALL,
    _check,
    "a foreign key validated at once (SHARE ROW EXCLUSIVE on both tables"
    " for a full scan; a table copy on MySQL)",
)
