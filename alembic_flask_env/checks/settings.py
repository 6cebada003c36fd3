"""``migration_checks``, ``migration_checks_min_rows``,
``migration_checks_autogenerate``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING
from typing import NamedTuple

from sqlalchemy.util import asbool

from ..errors import InvalidSetting
from ..settings import CHECKS_AUTOGENERATE_KEY
from ..settings import CHECKS_KEY
from ..settings import CHECKS_MIN_ROWS_KEY
from ..settings import count
from ..settings import find_setting

if TYPE_CHECKING:
    from alembic.config import Config

MODES = ("error", "warn", "off")


class ChecksSettings(NamedTuple):
    #: error: refuse the run; warn: log and run; off.
    mode: str = "error"
    #: Findings on tables the database estimates smaller are logged only.
    min_rows: int = 0
    #: Autogenerate writes the safe forms (PostgreSQL).
    autogenerate: bool = True


def read_checks_settings(
    config: Config, x_arguments: Mapping[str, str]
) -> ChecksSettings:
    """:raises InvalidSetting: a mode other than error, warn or off, or a
    row count that is not a whole number.
    """
    mode_setting = find_setting(config, x_arguments, CHECKS_KEY)
    mode = "error" if mode_setting is None else mode_setting.value.strip().lower()
    if mode_setting is not None and mode not in MODES:
        raise InvalidSetting(
            f"{mode_setting.describe()} is not one of {', '.join(MODES)}. Set"
            f" {CHECKS_KEY} = error (the default: refuse a revision that would"
            " block the app), warn (log it and run) or off."
        )
    rows_setting = find_setting(config, x_arguments, CHECKS_MIN_ROWS_KEY)
    rows = (
        0
        if rows_setting is None
        else count(
            rows_setting,
            "the fewest rows a table must have for a finding to stop the run",
        )
    )
    autogenerate_setting = find_setting(config, x_arguments, CHECKS_AUTOGENERATE_KEY)
    autogenerate = True
    if autogenerate_setting is not None:
        try:
            autogenerate = asbool(autogenerate_setting.value)
        except ValueError:
            raise InvalidSetting(
                f"{autogenerate_setting.describe()} is not a boolean. Set"
                f" {CHECKS_AUTOGENERATE_KEY} = true (the default: autogenerate"
                " writes the safe forms on PostgreSQL) or false (Alembic's plain"
                " rendering)."
            ) from None
    return ChecksSettings(mode, rows, autogenerate)
