"""A volatile default (any default before PostgreSQL 11) rewrites the table."""

from __future__ import annotations

import re

from ..changes import Change
from ..facts import Facts
from .base import POSTGRESQL
from .base import Rule
from .base import Verdict

#: Functions whose value differs per row, so PostgreSQL 11+ must still
#: write every row (a constant or now() is stored once, in the catalog).
_VOLATILE = re.compile(
    r"\b(random|gen_random_uuid|uuid_generate_v[14]|clock_timestamp|timeofday"
    r"|nextval|txid_current)\s*\(",
    re.IGNORECASE,
)


def _check(change: Change, facts: Facts) -> Verdict | None:
    # An identity or serial column's default is a sequence, a stored
    # generated column's a per-row expression: both volatile.
    computed = change.column_traits & {"auto_increment", "stored_generated"}
    if not change.default and not computed:
        return None
    before_11 = facts.postgresql_before(11)
    if not before_11 and not computed and not _VOLATILE.search(change.default):
        return None
    if before_11:
        why = "before PostgreSQL 11 any default"
    elif computed:
        why = "a value computed per row (an identity, serial or generated column)"
    else:
        why = f"the volatile default {change.default}"
    return (
        f"with {why}, ADD COLUMN rewrites every row of the table under an ACCESS"
        " EXCLUSIVE lock (no reads, no writes) for the whole rewrite.",
        "add the column without the default, set the default for new rows, and"
        f" fill the old rows in batches:\n    op.add_column({change.table!r},"
        f" sa.Column({change.name!r}, ..., nullable=True))\n"
        f"    op.alter_column({change.table!r}, {change.name!r},"
        f" server_default=sa.text({change.default!r}))",
    )


RULE = Rule(
    "adding-field-with-default",
    frozenset({"add_column"}),
    POSTGRESQL,
    _check,
    "a column with a volatile default, or an identity, serial or stored"
    " generated column (any default before PostgreSQL 11): a table rewrite"
    " under ACCESS EXCLUSIVE",
)
