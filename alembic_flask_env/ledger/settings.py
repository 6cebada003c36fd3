"""``migration_ledger`` (true, false or required) and
``migration_ledger_table``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING
from typing import NamedTuple

from sqlalchemy.util import asbool

from ..errors import InvalidSetting
from ..settings import LEDGER_KEY
from ..settings import LEDGER_TABLE_KEY
from ..settings import find_setting

if TYPE_CHECKING:
    from alembic.config import Config

DEFAULT_TABLE = "alembic_ledger"


class LedgerSettings(NamedTuple):
    enabled: bool = True
    #: A run that cannot write the ledger fails instead of warning.
    required: bool = False
    table: str = DEFAULT_TABLE
    #: Where the table's name was set, for a message; "" for the default.
    table_setting: str = ""

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
    return LedgerSettings(
        enabled, required, table, table_setting.describe() if table_setting else ""
    )


#: The longest table name each server takes (SQLite has no limit).
IDENTIFIER_LIMITS = {"postgresql": 63, "mysql": 64, "mariadb": 64}
_SERVER_NAMES = {"postgresql": "PostgreSQL", "mysql": "MySQL", "mariadb": "MariaDB"}


def check_table_name(
    settings: LedgerSettings, dialect: str, version_table: str
) -> None:
    """Refuse, before the run, a ledger table that could never be written:
    a name longer than the database takes, or the version table's own
    name (the ledger's rows would go where Alembic reads the revision).

    :raises InvalidSetting: naming the key, the value and the fix.
    """
    described = settings.table_setting or f"{LEDGER_TABLE_KEY} = {settings.table!r}"
    if settings.table.lower() == version_table.lower():
        raise InvalidSetting(
            f"{described} names the version table, where Alembic keeps the"
            f" current revision: the ledger's rows cannot go there. Set"
            f" {LEDGER_TABLE_KEY} = {DEFAULT_TABLE} (the default) or another"
            f" name than {version_table}."
        )
    limit = IDENTIFIER_LIMITS.get(dialect)
    if limit is not None and len(settings.table) > limit:
        raise InvalidSetting(
            f"{described} is {len(settings.table)} characters long, and"
            f" {_SERVER_NAMES[dialect]} takes table names of at most {limit}."
            f" Set {LEDGER_TABLE_KEY} to a shorter name, such as {DEFAULT_TABLE}"
            " (the default)."
        )
