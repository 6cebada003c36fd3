"""What a rule is: an id (squawk's name where squawk has the rule), the
changes and databases it looks at, and a function that says what the
change does to a live app and how to write it safely.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..changes import Change
    from ..facts import Facts

#: What a rule says of a change: what it does to the app, and the fix.
Verdict = tuple[str, str]


@dataclass(frozen=True)
class Rule:
    id: str
    #: The Change kinds it looks at.
    kinds: frozenset[str]
    dialects: frozenset[str]
    check: Callable[[Change, Facts], Verdict | None]
    #: What the README's rule table says it catches and the lock it avoids.
    summary: str
    #: Whether a table created earlier in the run is exempt (nobody uses
    #: it yet): true for every rule about locks.
    exempt_new_tables: bool = True


def or_phased(fix: str, facts: Facts, fill: str = "") -> str:
    """``fix``, and on PostgreSQL the other way: keep the op as it is in a
    revision marked ``expand_contract = True``, which the environment runs
    in phases that keep both releases working (issue 25).
    """
    if facts.dialect != "postgresql":
        return fix
    return (
        f"{fix} Or keep the op as it is in a revision of its own marked"
        f" expand_contract = True{fill}: 'alembic upgrade' then expands it (the"
        " old and the new release both keep working) and 'python -m"
        " alembic_flask_env contract' completes it once the old release is gone."
    )


POSTGRESQL = frozenset({"postgresql"})
MYSQL = frozenset({"mysql", "mariadb"})
ALL = POSTGRESQL | MYSQL
