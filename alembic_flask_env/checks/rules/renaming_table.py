"""Renaming a table breaks the code of the release still running."""

from __future__ import annotations

from ..changes import Change
from ..facts import Facts
from .base import ALL
from .base import Rule
from .base import Verdict
from .base import or_phased


def _check(change: Change, facts: Facts) -> Verdict | None:
    return (
        (
            "renaming a table breaks the code of the release still running, which "
            "queries the old name."
        ),
        or_phased(
            "create the new table (or a view of the old name), move the app over, then"
            " drop the old one.",
            facts,
        ),
    )


RULE = Rule(
    "renaming-table",
    frozenset({"rename_table"}),
    ALL,
    _check,
    "a renamed table (the running release still uses the old name)",
)
