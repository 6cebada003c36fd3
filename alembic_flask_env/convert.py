"""Convert a ``flask db init`` folder to plain Alembic with this package.

Flask-Migrate keeps ``alembic.ini`` inside the migrations folder and an
``env.py`` that only works under ``flask db``. Conversion:

- replaces ``env.py`` with the ``flask`` template's,
- moves ``alembic.ini`` to the project directory (where plain ``alembic``
  looks for it), adding ``script_location``, ``prepend_sys_path`` and
  ``flask_app`` and the ``alembic_flask_env`` logger, and keeping everything
  else in it,
- and touches nothing else: every revision file and the database stay as
  they are, so ``alembic current`` reports what ``flask db current`` did.

Running it again on a converted folder changes nothing. Multi-database
folders are refused for now (their revisions name the default bind ``''``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .template_lookup import TEMPLATES_DIR

_OUR_MARKER = "alembic_flask_env"


class ConversionError(Exception):
    """The folder cannot be converted; the message says why and what to do."""


@dataclass(frozen=True)
class Result:
    changed: list[Path]
    ini: Path


def convert(directory: Path, flask_app: str = "") -> Result:
    """Convert ``directory`` (a ``flask db init`` folder) in place.

    :param flask_app: written as ``flask_app``; empty leaves ``FLASK_APP`` to
        be used.
    :raises ConversionError: not a Flask-Migrate folder, a multi-database
        one, or an ``alembic.ini`` of something else is in the way.
    """
    directory = directory.resolve()
    env_py = directory / "env.py"
    folder_ini = directory / "alembic.ini"
    project_ini = directory.parent / "alembic.ini"
    if not (directory / "versions").is_dir() or not env_py.is_file():
        raise ConversionError(
            f"{directory} is not a migrations folder (no env.py and versions/)."
            " Pass the folder 'flask db init' created, by default 'migrations'."
        )
    env_source = env_py.read_text()
    if _OUR_MARKER in env_source and not folder_ini.exists():
        return Result(changed=[], ini=project_ini)  # converted already
    if "bind_names" in env_source:
        raise ConversionError(
            f"{env_py} is Flask-Migrate's multi-database env.py, which this"
            " version cannot convert yet: its revisions name the default bind"
            " '' (upgrade_()), the flask-multidb template 'default'. Keep using"
            " 'flask db' for this folder for now."
        )
    if "current_app" not in env_source:
        raise ConversionError(
            f"{env_py} is not Flask-Migrate's env.py. Only folders created by"
            " 'flask db init' are converted."
        )
    if not folder_ini.is_file():
        raise ConversionError(
            f"{folder_ini} is missing; 'flask db init' writes it. Restore it and"
            " run again."
        )
    if project_ini.exists():
        raise ConversionError(
            f"{project_ini} already exists, and converting would replace it."
            " Move it aside (or merge it by hand) and run again."
        )

    ini = _with_our_settings(folder_ini.read_text(), directory.name, flask_app)
    project_ini.write_text(ini)
    env_py.write_text((TEMPLATES_DIR / "flask" / "env.py").read_text())
    folder_ini.unlink()
    return Result(changed=[project_ini, env_py, folder_ini], ini=project_ini)


def _with_our_settings(ini: str, folder: str, flask_app: str) -> str:
    settings = (
        "[alembic]\n"
        "# Added by 'python -m alembic_flask_env convert' (was under flask db).\n"
        f"script_location = %(here)s/{folder}\n"
        "prepend_sys_path = %(here)s\n"
        "path_separator = os\n"
        "# The Flask app, in the forms 'flask --app' accepts; empty: FLASK_APP.\n"
        f"flask_app = {flask_app}\n"
    )
    if "[alembic]\n" not in ini:
        ini = settings + "\n" + ini
    else:
        ini = ini.replace("[alembic]\n", settings, 1)
    keys = re.search(r"^\[loggers\]\nkeys\s*=\s*(.*)$", ini, re.MULTILINE)
    if keys and _OUR_MARKER not in keys.group(1):
        ini = (ini[: keys.end(1)] + f",{_OUR_MARKER}" + ini[keys.end(1) :]).rstrip(
            "\n"
        ) + (
            f"\n\n[logger_{_OUR_MARKER}]\nlevel = INFO\nhandlers =\n"
            f"qualname = {_OUR_MARKER}\n"
        )
    return ini
