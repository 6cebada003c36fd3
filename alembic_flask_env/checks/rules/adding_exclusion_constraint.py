"""Adding an exclusion constraint builds its index and checks every row
under an ACCESS EXCLUSIVE lock; it cannot be added NOT VALID.
"""

from __future__ import annotations

from ..changes import Change
from ..facts import Facts
from .base import POSTGRESQL
from .base import Rule
from .base import Verdict


def _check(change: Change, facts: Facts) -> Verdict | None:
    return (
        (
            "adding an exclusion constraint builds its index and checks every row "
            "under an ACCESS EXCLUSIVE lock; it cannot be added NOT VALID."
        ),
        "create the table with it, or add it in a maintenance window.",
    )


RULE = Rule(
    "adding-exclusion-constraint",
    frozenset({"add_exclusion"}),
    POSTGRESQL,
    _check,
    "an exclusion constraint (ACCESS EXCLUSIVE for the build)",
)
