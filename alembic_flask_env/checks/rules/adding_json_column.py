"""A json column has no equality operator."""

from __future__ import annotations

from ..changes import Change
from ..facts import Facts
from .base import POSTGRESQL
from .base import Rule
from .base import Verdict


def _check(change: Change, facts: Facts) -> Verdict | None:
    if "json" not in change.column_traits:
        return None
    return (
        (
            "a json column has no equality operator, so queries with DISTINCT, UNION "
            "or GROUP BY on the table fail once it is there."
        ),
        "use jsonb: sa.Column(..., postgresql.JSONB()).",
    )


RULE = Rule(
    "adding-json-column",
    frozenset({"add_column"}),
    POSTGRESQL,
    _check,
    "a json (not jsonb) column (DISTINCT and UNION fail)",
)
