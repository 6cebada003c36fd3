"""Adding a stored generated column rewrites the table under an ACCESS
EXCLUSIVE lock.
"""

from __future__ import annotations

from ..changes import Change
from ..facts import Facts
from .base import POSTGRESQL
from .base import Rule
from .base import Verdict


def _check(change: Change, facts: Facts) -> Verdict | None:
    if "stored_generated" not in change.column_traits:
        return None
    return (
        (
            "adding a stored generated column rewrites the table under an ACCESS "
            "EXCLUSIVE lock."
        ),
        (
            "add a plain column, fill it in batches, and keep it up to date from the "
            "app or a trigger."
        ),
    )


RULE = Rule(
    "adding-stored-generated-column",
    frozenset({"add_column"}),
    POSTGRESQL,
    _check,
    "a stored generated column (a table rewrite)",
)
