"""Where the environment's settings come from, and in which order."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import FlaskEnvError

if TYPE_CHECKING:
    from alembic.config import Config

APP_KEY = "flask_app"
APP_ENVIRONMENT_VARIABLE = "FLASK_APP"
BINDS_KEY = "flask_binds"
METADATA_KEY = "flask_metadata"
LOCK_KEY = "migration_lock"
LOCK_TIMEOUT_KEY = "migration_lock_timeout"
#: The keys this package reads; "-x KEY" without "=VALUE" is an error for these.
OUR_KEYS = (APP_KEY, BINDS_KEY, METADATA_KEY, LOCK_KEY, LOCK_TIMEOUT_KEY)


@dataclass(frozen=True)
class Setting:
    """A configuration value together with where it was found, so that an
    error can tell the user which line to fix.
    """

    key: str
    value: str
    source: str

    def describe(self) -> str:
        return f"{self.key} = {self.value!r} (from {self.source})"


def find_setting(
    config: Config,
    x_arguments: Mapping[str, str],
    key: str,
    environment_variable: str | None = None,
) -> Setting | None:
    """Look ``key`` up in ``-x key=...``, then the ``[alembic]`` section of
    the ini file, then ``[tool.alembic]`` in pyproject.toml, then (if given)
    an environment variable. Empty values count as unset, so the template's
    blank ``flask_app =`` falls through to the next place.
    """
    value = x_arguments.get(key, "").strip()
    if value:
        return Setting(key, value, f"-x {key}=...")

    value = (config.get_main_option(key) or "").strip()
    if value:
        return Setting(key, value, _ini_name(config))

    # Not get_alembic_option(): it stops at the ini's key even when that is
    # empty, as the template's "flask_app =" is until the user fills it in.
    value = str(_toml_table(config).get(key) or "").strip()
    if value:
        return Setting(key, value, "[tool.alembic] in pyproject.toml")

    if environment_variable is not None:
        value = os.environ.get(environment_variable, "").strip()
        if value:
            return Setting(
                key, value, f"the {environment_variable} environment variable"
            )
    return None


def read_x_arguments(arguments: list[str]) -> dict[str, str]:
    """``-x key=value`` arguments as a dictionary, as Alembic's
    ``get_x_argument(as_dictionary=True)`` makes it, but refusing one of our
    keys without a value, which would otherwise be silently ignored.

    :raises FlaskEnvError: ``-x flask_app`` and the like.
    """
    values = {}
    for argument in arguments:
        key, separator, value = argument.partition("=")
        if not separator and key.strip() in OUR_KEYS:
            raise FlaskEnvError(
                f"-x {argument!r} has no value. Write -x {key.strip()}=VALUE,"
                f" for example -x {APP_KEY}=yourpackage:create_app."
            )
        values[key] = value
    return values


def _toml_table(config: Config) -> Mapping[str, object]:
    try:
        return config.toml_alembic_config
    except ValueError as exc:  # tomllib.TOMLDecodeError
        raise FlaskEnvError(
            f"{config.toml_file_name} is not valid TOML ({exc}), so its"
            " [tool.alembic] table cannot be read. Fix the file, or run alembic"
            " from a directory without it (or name another with -c)."
        ) from None


def _ini_name(config: Config) -> str:
    name = os.path.basename(config.config_file_name or "alembic.ini")
    return f"[{config.config_ini_section}] in {name}"
