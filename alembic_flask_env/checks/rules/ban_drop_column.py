"""Dropping a column breaks the code of the release still running if it
still selects or writes it (SQLAlchemy selects every mapped column).
"""

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
            "dropping a column breaks the code of the release still running if it "
            "still selects or writes it (SQLAlchemy selects every mapped column)."
        ),
        or_phased(
            "remove the column from the models and deploy that first; drop it in a "
            "later release, and skip this rule there with the reason.",
            facts,
        ),
    )


RULE = Rule(
    "ban-drop-column",
    frozenset({"drop_column"}),
    ALL,
    _check,
    "a dropped column (the running release may still select it)",
)
