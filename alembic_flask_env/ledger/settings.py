"""``migration_ledger`` (true, false or required) and
``migration_ledger_table``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.util import asbool

from ..errors import InvalidSetting
from ..settings import LEDGER_KEY
from ..settings import LEDGER_TABLE_KEY
from ..settings import find_setting

if TYPE_CHECKING:
    from alembic.config import Config

DEFAULT_TABLE = "alembic_ledger"


@dataclass(frozen=True)
class LedgerSettings:
    enabled: bool = True
    #: A run that cannot write the ledger fails instead of warning.
    required: bool = False
    table: str = DEFAULT_TABLE

    @property
    def ignored_tables(self) -> frozenset[str]:
        """The tables autogenerate must never propose to drop."""
        return frozenset({self.table})


def read_ledger_settings(
    config: Config, x_arguments: Mapping[str, str]
) -> LedgerSettings:
    """:raises InvalidSetting: not a boolean or ``required``; a table name
    that is not an identifier.
    """
    enabled, required = True, False
    setting = find_setting(config, x_arguments, LEDGER_KEY)
    if setting is not None:
        value = setting.value.strip().lower()
        if value == "required":
            required = True
        else:
            try:
                enabled = asbool(value)
            except ValueError:
                raise InvalidSetting(
                    f"{setting.describe()} is neither a boolean nor 'required'."
                    f" Set {LEDGER_KEY} = true (the default: record every run,"
                    " warn if the table cannot be written), required (fail"
                    " instead) or false."
                ) from None
    table = DEFAULT_TABLE
    table_setting = find_setting(config, x_arguments, LEDGER_TABLE_KEY)
    if table_setting is not None:
        table = table_setting.value.strip()
        if not table.isidentifier() or not table.isascii():
            raise InvalidSetting(
                f"{table_setting.describe()} is not a table name (letters, digits"
                f" and underscores, not starting with a digit). Set"
                f" {LEDGER_TABLE_KEY} = {DEFAULT_TABLE} (the default) or another"
                " such name."
            )
    return LedgerSettings(enabled, required, table)
