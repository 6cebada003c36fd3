"""Adding an identity or serial column fills every row."""

from __future__ import annotations

from ..changes import Change
from ..facts import Facts
from .base import POSTGRESQL
from .base import Rule
from .base import Verdict


def _check(change: Change, facts: Facts) -> Verdict | None:
    if "auto_increment" not in change.column_traits:
        return None
    return (
        (
            "adding an identity or serial column fills every row, rewriting the table "
            "under an ACCESS EXCLUSIVE lock."
        ),
        (
            "add a plain nullable column with a sequence default for new rows, then "
            "fill the old rows in batches."
        ),
    )


RULE = Rule(
    "adding-auto-incrementing-column",
    frozenset({"add_column"}),
    POSTGRESQL,
    _check,
    "an auto-incrementing column (a table rewrite)",
)
