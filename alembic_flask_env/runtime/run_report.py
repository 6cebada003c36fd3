"""What a run did and how long each step took, in the log.

An operator watching a deploy needs to see which migration was slow and
that the run did (or did not) do anything: each revision logs its duration
when it finishes, through Alembic's own ``on_version_apply`` hook, and the
run ends with one summary line. ``current`` and ``history`` print as before.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING
from typing import Any

if TYPE_CHECKING:
    from alembic.runtime.migration import MigrationContext
    from alembic.runtime.migration import MigrationInfo

log = logging.getLogger(__name__)

#: What a command did to the revisions, for the summary line.
_VERBS = {"upgrade": "upgraded", "downgrade": "downgraded", "stamp": "stamped"}


class RunReport:
    """Counts and times the steps of one run (one database)."""

    def __init__(self, where: str = "") -> None:
        #: Appended to each line, e.g. " (bind 'users')".
        self.where = where
        self.steps = 0
        #: Where the run started, as the first step to end found it; None
        #: until one has.
        self.start_heads: tuple[str, ...] | None = None
        self._started = self._last = time.perf_counter()

    def on_version_apply(
        self,
        *,
        ctx: MigrationContext,
        step: MigrationInfo,
        heads: set[str],
        run_args: dict[str, Any],
    ) -> None:
        now = time.perf_counter()
        if self.start_heads is None:
            self.start_heads = tuple(step.source_revision_ids)
        self.steps += 1
        if not step.is_stamp:
            source = ", ".join(step.source_revision_ids) or "<base>"
            destination = ", ".join(step.destination_revision_ids) or "<base>"
            direction = "upgrade" if step.is_upgrade else "downgrade"
            log.info(
                "Finished %s %s -> %s in %.2f s%s",
                direction,
                source,
                destination,
                now - self._last,
                self.where,
            )
        self._last = now

    def rolled_back(self) -> None:
        """The steps so far were undone with their transaction: they do not
        count.
        """
        self.steps = 0

    def summarise(self, command: str, offline: bool) -> None:
        """One line for the run; said even when it did nothing."""
        plural = "" if self.steps == 1 else "s"
        if offline:
            log.info("Wrote the SQL of %d revision%s%s", self.steps, plural, self.where)
            return
        verb = _VERBS.get(command)
        if verb is None:
            return
        seconds = time.perf_counter() - self._started
        nothing = (
            ": nothing to do, the database is there already" if not self.steps else ""
        )
        log.info(
            "%s %d revision%s in %.2f s%s%s",
            verb.capitalize(),
            self.steps,
            plural,
            seconds,
            self.where,
            nothing,
        )
