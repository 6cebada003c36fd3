"""Each phase of an expand/contract revision as a row of the ledger (when
``migration_ledger`` is on): expand started (its changes), each backfill
done (rows, time), expanded; contract and abort. The progress of a
backfill under way is in the state row (``status``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..ledger.recorder import LedgerRecorder
from ..ledger.settings import read_ledger_settings

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.engine import Connection


def phase_ledger(
    config: Config,
    x_arguments: Mapping[str, str],
    connection: Connection,
    schema: str | None,
    version_table: str,
    app_name: str,
    command: str,
) -> LedgerRecorder | None:
    """The recorder of this database's ledger; None when it is off."""
    settings = read_ledger_settings(config, x_arguments)
    if not settings.enabled:
        return None
    return LedgerRecorder(
        settings,
        schema,
        app_name,
        connection.engine.url,
        command=command,
        version_table=version_table,
    )
