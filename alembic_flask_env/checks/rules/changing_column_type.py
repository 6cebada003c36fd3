"""A type change rewrites the table (and its indexes) under ACCESS EXCLUSIVE,
except the changes PostgreSQL makes in the catalog only; on MySQL/MariaDB
it copies the table, except a VARCHAR widened within its length bytes.

In a run the type before is the database's when the revision does not
say it (see
:func:`alembic_flask_env.checks.facts.with_live_types`).
"""

from __future__ import annotations

import re

from ..changes import Change
from ..facts import Facts
from .base import ALL
from .base import Rule
from .base import Verdict
from .base import or_phased

_VARCHAR = re.compile(r"^(?:varchar|character varying)(?:\((\d+)\))?$")
_NUMERIC = re.compile(r"^(?:numeric|decimal)(?:\((\d+)(?:,\s*(\d+))?\))?$")


def _normal(type_: str) -> str:
    """One spelling of a type: numeric(10,2) as the database gives it is
    SQLAlchemy's numeric(10, 2).
    """
    return re.sub(r"\s*,\s*", ", ", type_.strip().lower())


def no_rewrite(old: str, new: str) -> bool:
    """Whether PostgreSQL changes ``old`` to ``new`` without a rewrite:
    the same type, varchar to a larger (or no) limit or to text, numeric
    to a larger precision at the same scale, cidr to inet.
    """
    old, new = _normal(old), _normal(new)
    if old == new or (old, new) in {("cidr", "inet"), ("varchar", "text")}:
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


#: A MySQL VARCHAR of up to this many bytes has one length byte, above it
#: two: InnoDB widens one in place only while that stays the same.
_ONE_LENGTH_BYTE = 255
#: The most bytes a character takes (utf8mb4), when the column's
#: character set is not known.
_WIDEST_CHARACTER = 4


def in_place_on_mysql(old: str, new: str, bytes_per_character: int | None) -> bool:
    """Whether MySQL/MariaDB change ``old`` to ``new`` in place (INPLACE or
    INSTANT: writes go on): a VARCHAR to a larger one whose length takes
    as many length bytes (up to 255 bytes, or more than 255 both). Without
    the column's bytes a character, only what holds for every character
    set: both at most 63 characters (255 bytes in utf8mb4), or more than
    255 characters before.
    """
    if _normal(old) == _normal(new):
        return True
    old_varchar = _VARCHAR.match(_normal(old))
    new_varchar = _VARCHAR.match(_normal(new))
    if not (old_varchar and new_varchar):
        return False
    if old_varchar.group(1) is None or new_varchar.group(1) is None:
        return False
    old_length, new_length = int(old_varchar.group(1)), int(new_varchar.group(1))
    if new_length < old_length:
        return False
    if bytes_per_character is None:
        return (
            new_length * _WIDEST_CHARACTER <= _ONE_LENGTH_BYTE
            or old_length > _ONE_LENGTH_BYTE
        )
    return (new_length * bytes_per_character <= _ONE_LENGTH_BYTE) == (
        old_length * bytes_per_character <= _ONE_LENGTH_BYTE
    )


def _check(change: Change, facts: Facts) -> Verdict | None:
    if change.old_type and facts.dialect == "postgresql":
        if no_rewrite(change.old_type, change.new_type):
            return None
    elif change.old_type:
        live = facts.column(change.table, change.name, change.schema)
        per_character = live.bytes_per_character if live is not None else None
        if (live is None or live.keeps_collation) and in_place_on_mysql(
            change.old_type, change.new_type, per_character
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
        or_phased(
            "add a new column of the new type, write both from the app, backfill"
            " in batches, switch reads, then drop the old column.",
            facts,
            " (postgresql_using= gives the new value; expand_contract_down the"
            " old one where a cast back cannot)",
        ),
    )


RULE = Rule(
    "changing-column-type",
    frozenset({"alter_type"}),
    ALL,
    _check,
    "a column type change that rewrites the table (varchar to a larger limit"
    " or text, larger numeric precision, cidr to inet are fine; on"
    " MySQL/MariaDB a larger varchar whose length stays on either side of"
    " 255 bytes)",
)
