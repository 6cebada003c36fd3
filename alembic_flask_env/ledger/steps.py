"""How a step of a run is named in the ledger and in telemetry."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alembic.runtime.migration import MigrationInfo


#: What a step does; a failure outside any step takes the command's name.
DIRECTIONS = ("upgrade", "downgrade", "stamp")


def direction_of(step: MigrationInfo) -> str:
    """``upgrade``, ``downgrade`` or ``stamp``."""
    if step.is_stamp:
        return "stamp"
    return "upgrade" if step.is_upgrade else "downgrade"


def revisions_of(step: MigrationInfo) -> tuple[str | None, str | None]:
    """The step's (to, from) revisions, several joined by commas; None
    for the base.
    """
    to = ", ".join(step.destination_revision_ids) or None
    source = ", ".join(step.source_revision_ids) or None
    return to, source
