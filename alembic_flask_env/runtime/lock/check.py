"""The lock, checked at every revision of a run.

Alembic calls ``on_version_apply`` after a revision's work and its
``alembic_version`` change, inside the revision's transaction (with
``transaction_per_migration``) or the run's: before that work is
committed and before the next revision starts. That is where a lost lock
must stop the run, so that nothing done without the lock is committed
and no revision runs while another run may be applying it too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any

from .holder import LockLost

if TYPE_CHECKING:
    from alembic.runtime.migration import MigrationContext
    from alembic.runtime.migration import MigrationInfo

    from .holder import HeldLock
    from .self_wait import SelfWaitWatch


class LockCheck:
    """An ``on_version_apply`` hook that verifies ``held`` (set once the
    lock is taken; None: no lock, nothing to check) and remembers which
    revisions were committed under it.
    """

    def __init__(self, *, one_transaction: bool) -> None:
        self.held: HeldLock | None = None
        #: The watch for statements waiting on the lock's own session.
        self.self_wait: SelfWaitWatch | None = None
        self.one_transaction = one_transaction
        #: The steps that passed the check, "a -> b" each.
        self.checked: list[str] = []

    def on_version_apply(
        self,
        *,
        ctx: MigrationContext,
        step: MigrationInfo,
        heads: set[str],
        run_args: dict[str, Any],
    ) -> None:
        name = _step_name(step)
        # In one transaction nothing of the step commits before the run's
        # own check: this one may skip its round trip (HeldLock.verify).
        self.verify(during=f"revision {name}", quick=self.one_transaction)
        self.checked.append(name)

    def verify(self, during: str, *, quick: bool = False) -> None:
        """:raises LockLost: with ``during`` saying where the run was."""
        if self.held is None:
            return
        try:
            self.held.verify(quick=quick)
        except LockLost as lost:
            lost.during = during
            raise

    @property
    def committed(self) -> list[str]:
        """What the run committed before the lock was found lost: the
        checked steps with a transaction each; nothing in one transaction.
        """
        return [] if self.one_transaction else list(self.checked)


def _step_name(step: MigrationInfo) -> str:
    source = ", ".join(step.source_revision_ids) or "<base>"
    destination = ", ".join(step.destination_revision_ids) or "<base>"
    return f"{source} -> {destination}"
