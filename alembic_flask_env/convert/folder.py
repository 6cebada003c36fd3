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

import ast
import configparser
import os
import re
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

from ..errors import ConversionError
from ..plugin.template_lookup import TEMPLATES_DIR
from ..url_masking import mask_secrets
from .env_code import NotCarried
from .env_code import code_not_carried
from .env_options import DroppedOption
from .env_options import dropped_configure_options

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
    #: What the old env.py passed to context.configure() that the new one
    #: does not.
    dropped: list[DroppedOption] = field(default_factory=list)
    #: Every other line of the old env.py (imports and code) that the new
    #: one does not run.
    not_carried: list[NotCarried] = field(default_factory=list)


def convert(directory: Path, flask_app: str = "") -> Result:
    """Convert ``directory`` (a ``flask db init`` folder) in place.

    :param flask_app: written as ``flask_app``; empty leaves ``FLASK_APP`` to
        be used.
    :raises ConversionError: not a Flask-Migrate folder, an async one, or a
        file of something else is in the way.
    """
    # Absolute, not resolved: a symlinked folder converts where it is
    # linked from, the project the user named.
    directory = directory.absolute()
    env_py = directory / "env.py"
    folder_ini = directory / "alembic.ini"
    project = project_directory(directory)
    project_ini = project / "alembic.ini"
    if not (directory / "versions").is_dir() or not env_py.is_file():
        raise ConversionError(
            f"{directory} is not a migrations folder (no env.py and versions/)."
            " Pass the folder 'flask db init' created, by default 'migrations'."
        )
    env_source = read_text(env_py)
    if _OUR_MARKER in env_source and not folder_ini.exists():
        return Result(ini=project_ini)  # converted already
    _refuse_what_cannot_convert(env_py, env_source, folder_ini, project_ini)
    _refuse_unwritable_app(flask_app)
    multidb = "bind_names" in env_source
    replacements = _replacements(directory, multidb)
    location = directory.relative_to(project).as_posix()
    ini, replaced = _with_our_settings(folder_ini, location, flask_app, multidb)
    _refuse_unwritable([project, directory])

    result = Result(
        ini=project_ini,
        replaced=replaced,
        dropped=dropped_configure_options(env_py, env_source),
        not_carried=code_not_carried(env_py, env_source),
    )
    try:
        _write(result, project_ini, ini, replacements, folder_ini)
    except OSError as error:
        _undo(result)
        raise ConversionError(
            f"Could not write {error.filename or 'a file'} ({error.strerror or error});"
            " every change was undone, so the folder is as it was. Make the"
            " folder and the project directory writable and run again."
        ) from None
    return result


def _write(
    result: Result,
    project_ini: Path,
    ini: str,
    replacements: dict[Path, str],
    folder_ini: Path,
) -> None:
    """The conversion's writes, each recorded in ``result`` as it is done,
    so that :func:`_undo` can take back exactly those.
    """
    project_ini.write_text(ini, encoding="utf-8")
    result.written.append(project_ini)
    for path, text in replacements.items():
        if path.exists():
            path.rename(_backup_path(path))
            result.backups.append(_backup_path(path))
        path.write_text(text, encoding="utf-8")
        result.written.append(path)
    folder_ini.unlink()
    result.removed.append(folder_ini)


def _undo(result: Result) -> None:
    """Take back a conversion that failed half-way: no half-converted
    folder, and no new alembic.ini that would stop the next run.
    """
    for path in result.written:
        path.unlink(missing_ok=True)
    for backup in result.backups:
        backup.rename(backup.with_name(backup.name.removesuffix(BACKUP_SUFFIX)))


def read_text(path: Path) -> str:
    """:raises ConversionError: the file is not UTF-8 text."""
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConversionError(
            f"{path} is not UTF-8 text (byte 0x{error.object[error.start]:02x}"
            f" at offset {error.start}), so it cannot be converted safely. Save it"
            " as UTF-8 and run again."
        ) from None


def _refuse_unwritable_app(flask_app: str) -> None:
    """:raises ConversionError: a value the ini file cannot hold as given
    (a line break would start another key).
    """
    if "\n" in flask_app or "\r" in flask_app:
        raise ConversionError(
            f"--app {flask_app!r} has a line break, which would end the"
            " flask_app line of alembic.ini and start another. Pass the app on"
            " one line, for example --app yourpackage:create_app."
        )


def _refuse_unwritable(directories: list[Path]) -> None:
    """Checked before the first write, so that a read-only folder stops
    the conversion with nothing changed.

    :raises ConversionError: a directory conversion writes to is read-only.
    """
    for directory in directories:
        if not os.access(directory, os.W_OK | os.X_OK):
            raise ConversionError(
                f"{directory} is not writable, and converting writes there."
                " Make it writable (or run as its owner) and run again."
            )


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
    if _uses_asyncio(env_source):
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


def _uses_asyncio(env_source: str) -> bool:
    """Whether the env.py's code (not a comment) uses asyncio, as
    Flask-Migrate's aioflask template does.
    """
    try:
        tree = ast.parse(env_source)
    except SyntaxError:
        return "asyncio" in env_source
    for node in ast.walk(tree):
        if isinstance(node, (ast.AsyncFunctionDef, ast.Await)):
            return True
        if isinstance(node, ast.Import) and any(
            alias.name.split(".")[0] == "asyncio" for alias in node.names
        ):
            return True
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
            "asyncio"
        ):
            return True
    return False


def _replacements(directory: Path, multidb: bool) -> dict[Path, str]:
    """The files conversion replaces, with their new text.

    :raises ConversionError: the backup of one of them would overwrite a file.
    """
    template = TEMPLATES_DIR / ("flask-multidb" if multidb else "flask")
    new_env = (template / "env.py").read_text(encoding="utf-8")
    replacements = {directory / "env.py": new_env}
    if multidb:
        if _MULTIDB_CALL not in new_env:  # pragma: no cover - packaging bug
            raise RuntimeError("the flask-multidb env.py has no call to patch")
        replacements[directory / "env.py"] = new_env.replace(
            _MULTIDB_CALL, _FLASK_MIGRATE_NAMING
        )
        replacements[directory / "script.py.mako"] = (
            template / "script.py.mako"
        ).read_text(encoding="utf-8")
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
    ini, replaced = _without_ignored_keys(_with_final_newline(read_text(folder_ini)))
    # In the ini a "%" starts an interpolation: a literal one is "%%".
    settings = {
        "script_location": f"%(here)s/{_escaped(location)}",
        "prepend_sys_path": "%(here)s",
        "path_separator": "os",
        "flask_app": _escaped(flask_app),
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
        f"flask_app = {settings['flask_app']}\n"
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
    header = _ALEMBIC_HEADER.search(ini)
    if header is None:
        ini = block + "\n" + ini
    else:
        ini = ini[: header.start()] + block + ini[header.end() :]
    keys = re.search(r"^\[loggers\]\nkeys\s*=\s*(.*)$", ini, re.MULTILINE)
    if keys and _OUR_MARKER not in keys.group(1):
        ini = (ini[: keys.end(1)] + f",{_OUR_MARKER}" + ini[keys.end(1) :]).rstrip(
            "\n"
        ) + (
            f"\n\n[logger_{_OUR_MARKER}]\nlevel = INFO\nhandlers =\n"
            f"qualname = {_OUR_MARKER}\n"
        )
    return ini, replaced


#: The [alembic] section's header line, with what configparser allows
#: after it.
_ALEMBIC_HEADER = re.compile(r"(?m)^\[alembic\][ \t]*\n")


def _escaped(value: str) -> str:
    return value.replace("%", "%%")


def _with_final_newline(text: str) -> str:
    return text if text.endswith("\n") or not text else text + "\n"


def _without_ignored_keys(ini: str) -> tuple[str, list[str]]:
    """``ini`` without the keys of its ``[alembic]`` section that
    Flask-Migrate overrides (ihatemoney's has ``script_location = .``), and
    the lines removed.
    """
    section = re.search(r"(?ms)^\[alembic\][ \t]*\n(.*?)(?=^\[|\Z)", ini)
    if section is None:
        return ini, []
    body = section.group(1)
    # configparser reads keys in any case: SCRIPT_LOCATION is script_location.
    pattern = re.compile(
        rf"(?mi)^(?:{'|'.join(_IGNORED_BY_FLASK_MIGRATE)})\s*[=:].*\n?"
    )
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
            f"{folder_ini} cannot be read ({mask_secrets(str(error))}). Fix it and"
            " run again."
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
