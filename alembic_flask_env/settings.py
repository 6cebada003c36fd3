"""Where the environment's settings come from, and in which order."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alembic.config import Config

APP_KEY = "flask_app"
APP_ENVIRONMENT_VARIABLE = "FLASK_APP"


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
    value = str(config.toml_alembic_config.get(key) or "").strip()
    if value:
        return Setting(key, value, "[tool.alembic] in pyproject.toml")

    if environment_variable is not None:
        value = os.environ.get(environment_variable, "").strip()
        if value:
            return Setting(
                key, value, f"the {environment_variable} environment variable"
            )
    return None


def _ini_name(config: Config) -> str:
    name = os.path.basename(config.config_file_name or "alembic.ini")
    return f"[{config.config_ini_section}] in {name}"
