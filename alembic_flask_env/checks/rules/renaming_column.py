"""Renaming a column breaks the code of the release still running."""

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
            "renaming a column breaks the code of the release still running, which "
            "reads and writes the old name."
        ),
        or_phased(
            "add the new column, write both from the app, backfill, move reads, then "
            "drop the old one (or rename in the app first with a database view).",
            facts,
        ),
    )


RULE = Rule(
    "renaming-column",
    frozenset({"rename_column"}),
    ALL,
    _check,
    "a renamed column (the running release still uses the old name)",
)
