"""Build Alembic's ``Config`` from Python without path juggling.

Start-up code and test fixtures want ``command.upgrade(config, "head")``
without knowing where the process was started from. The ini file usually
sits beside the application package (or one or two levels above it), so we
look there first, then in the working directory.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from alembic.config import Config
from flask import current_app
from flask import has_app_context

from ..errors import ConfigFileNotFound
from .connection import CONNECTION_ATTRIBUTE

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection
    from sqlalchemy.engine import Engine

INI_NAME = "alembic.ini"
#: How many directories above the app's root_path are searched for the ini.
_LEVELS_ABOVE_APP = 2


def alembic_config(
    path: str | os.PathLike[str] | None = None,
    *,
    connection: Connection | Engine | None = None,
) -> Config:
    """Return an Alembic ``Config`` for the ini file of the current app.

    :param path: the ini file. By default, the first ``alembic.ini`` found in
        the current app's ``root_path`` or up to two directories above it
        (when an app context is active), then in the working directory. A
        ``pyproject.toml`` beside it is read too, as the ``alembic`` command
        does.
    :param connection: stored as ``config.attributes["connection"]``, so the
        migrations run over it instead of the app's own engine.
    :raises ConfigFileNotFound: no ini file was found.

    .. versionadded:: 0.1
    """
    ini = Path(path) if path is not None else _find_ini()
    if not ini.is_file():
        raise ConfigFileNotFound(
            f"alembic_config(path={str(ini)!r}): there is no such file. Pass the"
            " path of your alembic.ini (the file 'alembic init -t flask' wrote)."
        )
    pyproject = ini.parent / "pyproject.toml"
    config = Config(str(ini), toml_file=str(pyproject) if pyproject.is_file() else None)
    if connection is not None:
        config.attributes[CONNECTION_ATTRIBUTE] = connection
    return config


def _find_ini() -> Path:
    candidates = []
    if has_app_context():
        root = Path(current_app.root_path)
        candidates += [root, *list(root.parents)[:_LEVELS_ABOVE_APP]]
    candidates.append(Path.cwd())
    for directory in candidates:
        if (directory / INI_NAME).is_file():
            return directory / INI_NAME
    searched = ", ".join(str(d) for d in candidates)
    raise ConfigFileNotFound(
        f"alembic_config(): no {INI_NAME} in {searched}. Pass its path, as in"
        " alembic_config('path/to/alembic.ini')."
    )
