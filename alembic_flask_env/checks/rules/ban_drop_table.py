"""Dropping a table breaks the code of the release still running that uses it."""

from __future__ import annotations

from ..changes import Change
from ..facts import Facts
from .base import ALL
from .base import Rule
from .base import Verdict


def _check(change: Change, facts: Facts) -> Verdict | None:
    return (
        (
            "dropping a table breaks the code of the release still running that uses "
            "it, and its data is gone."
        ),
        (
            "remove the model and deploy that first; drop the table in a later "
            "release, and skip this rule there with the reason."
        ),
    )


RULE = Rule(
    "ban-drop-table",
    frozenset({"drop_table"}),
    ALL,
    _check,
    "a dropped table",
)
