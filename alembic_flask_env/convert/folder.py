"""Convert a ``flask db init`` folder to plain Alembic with this package.

Flask-Migrate keeps ``alembic.ini`` inside the migrations folder and an
``env.py`` that only works under ``flask db``. Conversion:

- replaces ``env.py`` with the ``flask`` (or ``flask-multidb``) template's,
  keeping the old one beside it as ``env.py.flask-migrate`` because projects
  do customise it;
- for a multi-database folder, also replaces ``script.py.mako`` (Flask-Migrate's
  asks ``current_app`` for the binds while rendering, after plain Alembic has
  left the app context) and has the new ``env.py`` call the default bind
  ``''`` as Flask-Migrate's revisions do;
- moves ``alembic.ini`` to the project directory (where plain ``alembic``
  looks for it), adding ``script_location``, ``prepend_sys_path``,
  ``flask_app`` and the ``alembic_flask_env`` logger and keeping everything
  else in it but the keys Flask-Migrate ignored. The project directory is the
  first directory above the folder that is not a Python package: the
  folder's parent for ``migrations/`` at the top, the directory above the
  package for ``pkg/migrations`` (where ``flask db`` was run, and where
  ``import pkg`` works);
- and touches nothing else: every revision file and the database stay as
  they are, so ``alembic current`` reports what ``flask db current`` did.

Every check runs before the first write, and running it again on a converted
folder changes nothing.
"""

from __future__ import annotations

import configparser
import re
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

from ..errors import ConversionError
from ..plugin.template_lookup import TEMPLATES_DIR

_OUR_MARKER = "alembic_flask_env"
BACKUP_SUFFIX = ".flask-migrate"

#: What makes the multidb env.py call the default bind '' in revisions.
_MULTIDB_CALL = "run_multidb_migrations(\n"
_FLASK_MIGRATE_NAMING = (
    "run_multidb_migrations(\n"
    "    # Converted from Flask-Migrate, whose revisions call the default bind\n"
    "    # '' (upgrade_()); new revisions keep that name.\n"
    '    default_engine_name="",\n'
)


#: Keys of the folder's ini that Flask-Migrate overrides, so that their
#: values never had an effect and conversion may replace them.
_IGNORED_BY_FLASK_MIGRATE = ("script_location",)


@dataclass
class Result:
    """What a conversion did, for the command to report."""

    ini: Path
    written: list[Path] = field(default_factory=list)
    backups: list[Path] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)
    #: Lines of the old ini that were replaced, because Flask-Migrate
    #: ignored them.
    replaced: list[str] = field(default_factory=list)


def convert(directory: Path, flask_app: str = "") -> Result:
    """Convert ``directory`` (a ``flask db init`` folder) in place.

    :param flask_app: written as ``flask_app``; empty leaves ``FLASK_APP`` to
        be used.
    :raises ConversionError: not a Flask-Migrate folder, an async one, or a
        file of something else is in the way.
    """
    directory = directory.resolve()
    env_py = directory / "env.py"
    folder_ini = directory / "alembic.ini"
    project = project_directory(directory)
    project_ini = project / "alembic.ini"
    if not (directory / "versions").is_dir() or not env_py.is_file():
        raise ConversionError(
            f"{directory} is not a migrations folder (no env.py and versions/)."
            " Pass the folder 'flask db init' created, by default 'migrations'."
        )
    env_source = env_py.read_text()
    if _OUR_MARKER in env_source and not folder_ini.exists():
        return Result(ini=project_ini)  # converted already
    _refuse_what_cannot_convert(env_py, env_source, folder_ini, project_ini)
    multidb = "bind_names" in env_source
    replacements = _replacements(directory, multidb)
    location = directory.relative_to(project).as_posix()
    ini, replaced = _with_our_settings(folder_ini, location, flask_app, multidb)

    result = Result(ini=project_ini, replaced=replaced)
    project_ini.write_text(ini)
    result.written.append(project_ini)
    for path, text in replacements.items():
        if path.exists():
            path.rename(_backup_path(path))
            result.backups.append(_backup_path(path))
        path.write_text(text)
        result.written.append(path)
    folder_ini.unlink()
    result.removed.append(folder_ini)
    return result


def project_directory(folder: Path) -> Path:
    """Where the converted ``alembic.ini`` goes: the first directory above
    ``folder`` that is not a Python package (has no ``__init__.py``).
    """
    project = folder.parent
    while (project / "__init__.py").is_file() and project.parent != project:
        project = project.parent
    return project


def _refuse_what_cannot_convert(
    env_py: Path, env_source: str, folder_ini: Path, project_ini: Path
) -> None:
    if "current_app" not in env_source:
        raise ConversionError(
            f"{env_py} is not Flask-Migrate's env.py. Only folders created by"
            " 'flask db init' are converted."
        )
    if "asyncio" in env_source:
        raise ConversionError(
            f"{env_py} is Flask-Migrate's asyncio env.py ('flask db init -t"
            " aioflask'), and alembic_flask_env migrates over synchronous"
            " engines only. Keep using 'flask db' for this folder."
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


def _replacements(directory: Path, multidb: bool) -> dict[Path, str]:
    """The files conversion replaces, with their new text.

    :raises ConversionError: the backup of one of them would overwrite a file.
    """
    template = TEMPLATES_DIR / ("flask-multidb" if multidb else "flask")
    new_env = (template / "env.py").read_text()
    replacements = {directory / "env.py": new_env}
    if multidb:
        if _MULTIDB_CALL not in new_env:  # pragma: no cover - packaging bug
            raise RuntimeError("the flask-multidb env.py has no call to patch")
        replacements[directory / "env.py"] = new_env.replace(
            _MULTIDB_CALL, _FLASK_MIGRATE_NAMING
        )
        replacements[directory / "script.py.mako"] = (
            template / "script.py.mako"
        ).read_text()
    for path in replacements:
        backup = _backup_path(path)
        if backup.exists():
            raise ConversionError(
                f"{backup} already exists, and converting would replace it with"
                f" the old {path.name}. Move it aside and run again."
            )
    return replacements


def _backup_path(path: Path) -> Path:
    return path.with_name(path.name + BACKUP_SUFFIX)


def _with_our_settings(
    folder_ini: Path, location: str, flask_app: str, multidb: bool
) -> tuple[str, list[str]]:
    """The new ini's text, and the old lines it replaced."""
    ini, replaced = _without_ignored_keys(folder_ini.read_text())
    settings = {
        "script_location": f"%(here)s/{location}",
        "prepend_sys_path": "%(here)s",
        "path_separator": "os",
        "flask_app": flask_app,
    }
    if multidb:
        settings["flask_binds"] = ""
        settings["revision_environment"] = "true"
    _refuse_keys_set_already(folder_ini, ini, settings)

    block = (
        "[alembic]\n"
        "# Added by 'python -m alembic_flask_env convert' (was under flask db).\n"
        f"script_location = {settings['script_location']}\n"
        f"prepend_sys_path = {settings['prepend_sys_path']}\n"
        f"path_separator = {settings['path_separator']}\n"
        "# The Flask app, in the forms 'flask --app' accepts; empty: FLASK_APP.\n"
        f"flask_app = {flask_app}\n"
    )
    if multidb:
        block += (
            '# The binds to migrate ("default" is the default database),'
            " separated\n# by commas. Empty: all of them.\n"
            "flask_binds =\n"
            "# Revisions have an upgrade_<bind>() per bind, so even a plain\n"
            "# 'alembic revision' must ask the app which binds there are.\n"
            "revision_environment = true\n"
        )
    if "[alembic]\n" not in ini:
        ini = block + "\n" + ini
    else:
        ini = ini.replace("[alembic]\n", block, 1)
    keys = re.search(r"^\[loggers\]\nkeys\s*=\s*(.*)$", ini, re.MULTILINE)
    if keys and _OUR_MARKER not in keys.group(1):
        ini = (ini[: keys.end(1)] + f",{_OUR_MARKER}" + ini[keys.end(1) :]).rstrip(
            "\n"
        ) + (
            f"\n\n[logger_{_OUR_MARKER}]\nlevel = INFO\nhandlers =\n"
            f"qualname = {_OUR_MARKER}\n"
        )
    return ini, replaced


def _without_ignored_keys(ini: str) -> tuple[str, list[str]]:
    """``ini`` without the keys of its ``[alembic]`` section that
    Flask-Migrate overrides (ihatemoney's has ``script_location = .``), and
    the lines removed.
    """
    section = re.search(r"(?ms)^\[alembic\]\n(.*?)(?=^\[|\Z)", ini)
    if section is None:
        return ini, []
    body = section.group(1)
    pattern = re.compile(rf"(?m)^(?:{'|'.join(_IGNORED_BY_FLASK_MIGRATE)})\s*[=:].*\n?")
    replaced = [line.strip() for line in pattern.findall(body)]
    if not replaced:
        return ini, []
    new_body = pattern.sub("", body)
    return ini[: section.start(1)] + new_body + ini[section.end(1) :], replaced


def _refuse_keys_set_already(
    folder_ini: Path, ini: str, settings: dict[str, str]
) -> None:
    # Adding a key the section has already would make the ini unreadable
    # (configparser refuses duplicates), and silently keeping either value
    # could change what runs.
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(ini, source=str(folder_ini))
    except configparser.Error as error:
        raise ConversionError(
            f"{folder_ini} cannot be read ({error}). Fix it and run again."
        ) from None
    if not parser.has_section("alembic"):
        return
    clashing = [key for key in settings if parser.has_option("alembic", key)]
    if clashing:
        raise ConversionError(
            f"{folder_ini} sets {', '.join(clashing)} in [alembic] already, and"
            " converting writes those keys itself. Remove them from it and run"
            " again (conversion sets script_location to the folder and"
            " prepend_sys_path to the project directory)."
        )
