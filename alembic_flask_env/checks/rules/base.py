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


POSTGRESQL = frozenset({"postgresql"})
MYSQL = frozenset({"mysql", "mariadb"})
ALL = POSTGRESQL | MYSQL
