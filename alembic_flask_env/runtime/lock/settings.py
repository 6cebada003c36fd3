"""``migration_lock`` and ``migration_lock_timeout``: whether runs take the
deploy lock, and how long one waits for another.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING
from typing import NamedTuple

from sqlalchemy.util import asbool

from ...errors import InvalidSetting
from ...settings import LOCK_KEY
from ...settings import LOCK_TIMEOUT_KEY as TIMEOUT_KEY
from ...settings import Setting
from ...settings import find_setting
from ...settings import seconds

if TYPE_CHECKING:
    from alembic.config import Config

DEFAULT_TIMEOUT_SECONDS = 300.0


class LockSettings(NamedTuple):
    enabled: bool
    timeout: float
    #: Where the timeout came from, for the timeout error.
    timeout_setting: Setting


def read_lock_settings(config: Config, x_arguments: Mapping[str, str]) -> LockSettings:
    """``migration_lock`` (default true) and ``migration_lock_timeout``
    (seconds, default 300), from ``-x``, the ini or pyproject.toml.

    :raises InvalidSetting: a value is not a boolean, or not a finite number
        of seconds from 0 (do not wait) to a year.
    """
    enabled = True
    lock = find_setting(config, x_arguments, LOCK_KEY)
    if lock is not None:
        try:
            enabled = asbool(lock.value)
        except ValueError:
            raise InvalidSetting(
                f"{lock.describe()} is not a boolean. Set {LOCK_KEY} = true (the"
                f" default: one migration run at a time) or {LOCK_KEY} = false."
            ) from None

    timeout_setting = find_setting(config, x_arguments, TIMEOUT_KEY) or Setting(
        TIMEOUT_KEY, str(DEFAULT_TIMEOUT_SECONDS), "the default"
    )
    timeout = seconds(timeout_setting, "wait for another migration run")
    return LockSettings(enabled, timeout, timeout_setting)
