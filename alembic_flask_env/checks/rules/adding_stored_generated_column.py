"""Adding a stored generated column rewrites the table: under an ACCESS
EXCLUSIVE lock on PostgreSQL, as a table copy (ALGORITHM=COPY) on
MySQL/MariaDB, which add only VIRTUAL ones in place.
"""

from __future__ import annotations

from ..changes import Change
from ..facts import Facts
from .base import ALL
from .base import Rule
from .base import Verdict


def _check(change: Change, facts: Facts) -> Verdict | None:
    if "stored_generated" not in change.column_traits:
        return None
    if facts.dialect != "postgresql":
        return (
            "adding a STORED generated column copies the table on MySQL/MariaDB"
            " (ALGORITHM=COPY) under a lock that blocks writes for the whole copy.",
            "add it VIRTUAL (sa.Computed(..., persisted=False)): it is added"
            " instantly, without a copy, and can be indexed; or add a plain column,"
            " fill it in batches, and keep it up to date from the app or a"
            " trigger.",
        )
    return (
        "adding a stored generated column rewrites the table under an ACCESS"
        " EXCLUSIVE lock.",
        "add a plain column, fill it in batches, and keep it up to date from the"
        " app or a trigger.",
    )


RULE = Rule(
    "adding-stored-generated-column",
    frozenset({"add_column"}),
    ALL,
    _check,
    "a stored generated column (a table rewrite; a table copy on MySQL/MariaDB)",
)
