"""A type change rewrites the table (and its indexes) under ACCESS EXCLUSIVE,
except the changes PostgreSQL makes in the catalog only.
"""

from __future__ import annotations

import re

from ..changes import Change
from ..facts import Facts
from .base import ALL
from .base import Rule
from .base import Verdict

_VARCHAR = re.compile(r"^(?:varchar|character varying)(?:\((\d+)\))?$")
_NUMERIC = re.compile(r"^(?:numeric|decimal)(?:\((\d+)(?:,\s*(\d+))?\))?$")


def no_rewrite(old: str, new: str) -> bool:
    """Whether PostgreSQL changes ``old`` to ``new`` without a rewrite:
    varchar to a larger (or no) limit or to text, numeric to a larger
    precision at the same scale, cidr to inet.
    """
    old, new = old.strip().lower(), new.strip().lower()
    if (old, new) in {("cidr", "inet"), ("varchar", "text")}:
        return True
    old_varchar, new_varchar = _VARCHAR.match(old), _VARCHAR.match(new)
    if old_varchar and (new == "text" or new_varchar):
        new_limit = new_varchar.group(1) if new_varchar else None
        old_limit = old_varchar.group(1)
        return new_limit is None or (
            old_limit is not None and int(new_limit) >= int(old_limit)
        )
    old_numeric, new_numeric = _NUMERIC.match(old), _NUMERIC.match(new)
    if old_numeric and new_numeric:
        if new_numeric.group(1) is None:
            return True
        if old_numeric.group(1) is None:
            return False
        return int(new_numeric.group(1)) >= int(old_numeric.group(1)) and (
            (old_numeric.group(2) or "0") == (new_numeric.group(2) or "0")
        )
    return False


def _check(change: Change, facts: Facts) -> Verdict | None:
    if (
        facts.dialect == "postgresql"
        and change.old_type
        and no_rewrite(change.old_type, change.new_type)
    ):
        return None
    # As SQL writes type names (INTEGER, VARCHAR(20)), whichever way the
    # revision gave them.
    old, new = change.old_type.upper(), change.new_type.upper()
    types = (
        f" from {old} to {new}"
        if old
        else f" to {new} (pass existing_type= to alter_column so a"
        " change that needs no rewrite is recognised)"
    )
    if facts.dialect != "postgresql":
        return (
            f"changing the type of {change.name!r}{types} copies the table on"
            " MySQL/MariaDB (ALGORITHM=COPY) under a lock that blocks writes for"
            " the whole copy.",
            "add a new column, write both from the app, backfill, switch reads,"
            " then drop the old one; or use an online schema change tool.",
        )
    return (
        f"changing the type of {change.name!r}{types} rewrites the table and its"
        " indexes under an ACCESS EXCLUSIVE lock (no reads, no writes).",
        "add a new column of the new type, write both from the app, backfill in"
        " batches, switch reads, then drop the old column.",
    )


RULE = Rule(
    "changing-column-type",
    frozenset({"alter_type"}),
    ALL,
    _check,
    "a column type change that rewrites the table (varchar to a larger limit"
    " or text, larger numeric precision, cidr to inet are fine)",
)
