"""From the ``flask_app`` setting to a Flask application: the one road.

This module finds the setting (``-x``, the ini, pyproject.toml, then
``FLASK_APP``, also from ``.flaskenv``/``.env`` as the ``flask`` command
reads them), loads the app once, and reports every failure in terms of the
setting the user wrote.

The string grammar is exactly ``flask --app``'s, because the work is done by
Flask's own ``prepare_import`` and ``locate_app``: ``module``,
``module:name``, ``module:factory``, ``module:factory('arg')`` (arguments are
literals, parsed with :func:`ast.literal_eval`), ``path/to/file.py``; with no
name, ``app``, ``application``, a single Flask instance, or a
``create_app``/``make_app`` factory. (Flask's documented
``ScriptInfo(app_import_path=...).load_app()`` calls the same two functions,
but hides the module name ``prepare_import`` derives, which the messages
below need to tell "your module does not exist" from "your module's own
import failed"; so we call them directly.)

One distinction Flask's messages blur is kept: a module that does not exist
is a configuration error, but an ``ImportError`` raised *inside* the user's
module is a bug in their code and is re-raised with its own traceback.
"""

from __future__ import annotations

import contextvars
import logging
import os
import pkgutil
import re
import site
import sys
import sysconfig
import traceback
from collections.abc import Iterator
from collections.abc import Mapping
from contextlib import contextmanager
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING

from alembic import context
from flask.cli import NoAppException
from flask.cli import load_dotenv
from flask.cli import locate_app
from flask.cli import prepare_import
from flask.helpers import get_load_dotenv

from ..errors import AppExited
from ..errors import AppLoadsItself
from ..errors import AppNotConfigured
from ..errors import AppNotFound
from ..errors import DriverNotInstalled
from ..errors import ExtensionNotInstalled
from ..errors import InvalidSetting
from ..errors import did_you_mean
from ..settings import APP_ENVIRONMENT_VARIABLE
from ..settings import APP_KEY
from ..settings import Setting
from ..settings import files_read
from ..settings import find_setting
from ..settings import unread_pyproject
from ..url_masking import mask_secrets
from .drivers import missing_driver

if TYPE_CHECKING:
    from alembic.config import Config
    from flask import Flask

log = logging.getLogger(__name__)

_DOTENV_NAMES = (".flaskenv", ".env")

# Set while we import the app or call its factory, to catch a factory that
# runs an Alembic command itself without an app context: that command would
# load the app again, whose factory would run the command again, and so on.
_loading: contextvars.ContextVar[Setting | None] = contextvars.ContextVar(
    "alembic_flask_env_loading", default=None
)

# Flask's own split: the first colon that is not part of a Windows drive.
_MODULE_NAME_SEPARATOR = re.compile(r":(?![\\/])")

#: The forms of flask_app, as 'flask --app' takes them: the one statement of
#: the grammar. The error hint quotes it, and a test checks that the
#: templates' comments and the README show each form.
APP_FORMS = ("module", "module:app", "module:create_app", "module:create_app('arg')")

FORMS_HINT = (
    f"Set {APP_KEY} to {', '.join(repr(form) for form in APP_FORMS[:-1])} or"
    f" \"{APP_FORMS[-1]}\", the same forms 'flask --app' accepts."
)


def loading_an_app() -> bool:
    """Whether this package is importing an app or calling its factory now
    (for an Alembic command): extensions that change how the app's
    connections behave when serving (``VersionedSchema``) stay out of a
    migration's way.
    """
    return _loading.get() is not None


def load_configured_app(
    config: Config, x_arguments: Mapping[str, str]
) -> tuple[Flask, Setting]:
    """The app ``flask_app`` (or ``FLASK_APP``, also from ``.flaskenv``)
    names, loaded once, and the setting that named it.

    :raises AppNotConfigured: nothing names an app.
    :raises AppNotFound: the setting leads to no app.
    """
    _load_dotenv()
    setting = require_app_setting(
        find_setting(config, x_arguments, APP_KEY, APP_ENVIRONMENT_VARIABLE), config
    )
    _warn_if_pyproject_unread(config)
    return _load_once(setting), setting


def _load_once(setting: Setting) -> Flask:
    outer = _loading.get()
    if outer is not None:
        raise AppLoadsItself(
            f"{outer.describe()}: loading the app ran an Alembic command, which"
            " would load the app again, without end. Run that command inside"
            " 'with app.app_context():' in your factory, so that it migrates"
            " the app being built instead of loading a new one."
        )
    token = _loading.set(setting)
    try:
        with _alembic_context_kept():
            return load_app(setting)
    except SystemExit as exc:
        # Exiting with 0 would make "alembic upgrade" succeed having done
        # nothing.
        raise AppExited(
            f"{setting.describe()}: loading the app raised SystemExit"
            f"({exc.code!r}){_where_raised(exc)}, so there is no app to migrate."
            " Put that exit under \"if __name__ == '__main__':\", or point"
            f" {APP_KEY} at code that builds the app without exiting."
        ) from exc
    finally:
        _loading.reset(token)


def _where_raised(error: BaseException) -> str:
    # A raised exception has at least the frame that raised it.
    frame = traceback.extract_tb(error.__traceback__)[-1]
    return f" at {frame.filename}, line {frame.lineno}"


@contextmanager
def _alembic_context_kept() -> Iterator[None]:
    """Put our run's ``alembic.context`` back after loading the app.

    ``from alembic import context`` is one module-level proxy. A factory that
    migrates on start-up runs a whole Alembic command inside ours, and when
    that command ends it removes the proxy, leaving our ``env.py`` without a
    context (and Alembic's own exit raising ``KeyError``). Alembic has no
    public API for nesting, so we reinstall our environment through the same
    private hook its ``__enter__`` uses; if that hook ever disappears, we
    leave things as they are rather than fail differently.
    """
    environment = getattr(context, "_proxy", None)
    try:
        yield
    finally:
        if (
            environment is not None
            and getattr(context, "_proxy", None) is not environment
        ):
            reinstall = getattr(environment, "_install_proxy", None)
            if reinstall is not None:
                reinstall()


def _load_dotenv() -> None:
    """Read ``.flaskenv`` and ``.env`` the way the ``flask`` command does,
    so ``FLASK_APP`` and the app's own variables there apply to Alembic too.
    A no-op unless python-dotenv is installed; ``FLASK_SKIP_DOTENV=1`` turns
    it off.
    """
    if not get_load_dotenv():
        return
    if find_spec("dotenv") is None:
        # Flask would look in the working directory only; python-dotenv,
        # had it been installed, would have searched upwards.
        for directory in (Path.cwd(), *Path.cwd().parents):
            found = [directory / n for n in _DOTENV_NAMES if (directory / n).is_file()]
            if found:
                log.warning(
                    "%s %s present, but python-dotenv is not installed, so"
                    " the variables in %s are not set (FLASK_APP among"
                    " them). Install python-dotenv (pip install"
                    " 'alembic-flask-env[dotenv]'), or set FLASK_SKIP_DOTENV=1"
                    " to silence this.",
                    " and ".join(str(path) for path in found),
                    "is" if len(found) == 1 else "are",
                    "it" if len(found) == 1 else "them",
                )
                return
        return
    try:
        load_dotenv()
    except UnicodeDecodeError:
        raise _not_utf8_dotenv() from None


def _not_utf8_dotenv() -> InvalidSetting:
    """Name the file python-dotenv could not decode, and the byte; its own
    error names neither.
    """
    for name in _DOTENV_NAMES:
        # python-dotenv's find_dotenv(usecwd=True): this directory, then up.
        for directory in (Path.cwd(), *Path.cwd().parents):
            path = directory / name
            if not path.is_file():
                continue
            try:
                path.read_bytes().decode("utf-8")
            except UnicodeDecodeError as error:
                byte = error.object[error.start]
                return InvalidSetting(
                    f"{path} is not UTF-8 text (byte 0x{byte:02x} at offset"
                    f" {error.start}), and python-dotenv reads {name} as UTF-8"
                    " for the flask command and for alembic alike. Save it as"
                    " UTF-8, or set FLASK_SKIP_DOTENV=1 to skip .flaskenv and"
                    " .env."
                )
            break
    return InvalidSetting(
        "A .flaskenv or .env file is not UTF-8 text. Save it as UTF-8, or set"
        " FLASK_SKIP_DOTENV=1 to skip .flaskenv and .env."
    )


def require_app_setting(setting: Setting | None, config: Config) -> Setting:
    """:raises AppNotConfigured: nothing names an app; the message says
    which files were read, and names a pyproject.toml that sets
    ``flask_app`` but was not read.
    """
    if setting is not None:
        return setting
    unread = unread_pyproject(config)
    if unread is not None and unread.settings.get(APP_KEY):
        ini = Path(config.config_file_name or "alembic.ini").absolute()
        raise AppNotConfigured(
            f"No Flask application is configured: '{APP_KEY}' is not set in"
            f" {ini}, and {unread.path} sets it under [tool.alembic] but was not"
            " read: the alembic command reads pyproject.toml from the working"
            f" directory ({Path.cwd()}) only, unless a second -c names it. Run"
            f" alembic from {unread.path.parent}, name both files (alembic -c"
            f" {ini} -c {unread.path} ...), or move {APP_KEY} into [alembic] in"
            f" {ini}."
        )
    raise AppNotConfigured(
        f"No Flask application is configured: '{APP_KEY}' is not set. Add"
        f" '{APP_KEY} = yourpackage:create_app' under [alembic] in alembic.ini"
        f" (or under [tool.alembic] in pyproject.toml), pass"
        f" '-x {APP_KEY}=yourpackage:create_app', or set the"
        f" {APP_ENVIRONMENT_VARIABLE} environment variable. Alembic read"
        f" {files_read(config)}."
    )


def _warn_if_pyproject_unread(config: Config) -> None:
    """The app was found elsewhere, but the pyproject.toml beside the ini
    has settings that this run does not read: say so rather than run
    without them.
    """
    unread = unread_pyproject(config)
    if unread is not None:
        log.warning(
            "%s has settings under [tool.alembic] (%s) that this run does not"
            " read: the alembic command reads pyproject.toml from the working"
            " directory (%s) only, unless a second -c names it. Run alembic"
            " from %s, or name both files: alembic -c %s -c %s ...",
            unread.path,
            ", ".join(sorted(unread.settings)),
            Path.cwd(),
            unread.path.parent,
            Path(config.config_file_name or "alembic.ini").absolute(),
            unread.path,
        )


def load_app(setting: Setting) -> Flask:
    """Import and return the application ``setting`` names.

    :raises AppNotFound: the setting does not lead to a Flask application.
    :raises Exception: whatever the user's module or factory raised.
    """
    parts = _MODULE_NAME_SEPARATOR.split(setting.value, maxsplit=1)
    path = parts[0].strip()
    app_name = parts[1] if len(parts) == 2 else None
    if not path:
        raise AppNotFound(
            f"{setting.describe()} names no module before the colon. {FORMS_HINT}"
        )
    if app_name is not None and not app_name.strip():
        raise AppNotFound(
            f"{setting.describe()} names no application after the colon. {FORMS_HINT}"
        )

    module_name = prepare_import(path)
    try:
        return locate_app(module_name, app_name)
    except SyntaxError as exc:
        # The line may hold a connection string, as a settings module's do.
        code = mask_secrets((exc.text or "").strip())
        raise AppNotFound(
            f"{setting.describe()}: Python cannot compile {exc.filename}, line"
            f" {exc.lineno}: {exc.msg}{f': {code!r}' if code else ''}. Fix the"
            " syntax error there."
        ) from None
    except ModuleNotFoundError as exc:
        # Raised by the factory rather than at import (Flask wraps those).
        _raise_if_extension_missing(setting, exc)
        _raise_if_driver_missing(setting, exc)
        raise
    except NoAppException as exc:
        cause = exc.__context__
        if isinstance(cause, ImportError):
            if isinstance(cause, ModuleNotFoundError):
                _raise_if_extension_missing(setting, cause)
                _raise_if_driver_missing(setting, cause)
            if not _is_module_missing(cause, module_name):
                # Flask folded the user's own ImportError into a message;
                # give it back with its traceback.
                raise cause from None
            raise AppNotFound(
                f"{setting.describe()}: could not import module"
                f" {module_name!r}.{_close_module(cause)} Check the spelling,"
                " and that the module"
                " is installed or lies in a directory on sys.path (the"
                " flask template sets 'prepend_sys_path = %(here)s', the"
                " directory of alembic.ini)."
            ) from None
        message = mask_secrets(str(exc).strip()) + _close_attribute(
            module_name, app_name
        )
        raise AppNotFound(f"{setting.describe()}: {message} {FORMS_HINT}") from exc


#: "create_app" of "create_app" and "create_app('prod')", as Flask reads it.
_ATTRIBUTE_NAME = r"\s*([A-Za-z_]\w*)\s*(?:\(|$)"


def _close_attribute(module_name: str, app_name: str | None) -> str:
    """A name of the imported module close to a misspelt ``app_name``
    (``create_ap``), as a sentence; "" when the name is there or none is
    close.
    """
    module = sys.modules.get(module_name)
    match = re.match(_ATTRIBUTE_NAME, app_name or "")
    if module is None or match is None or hasattr(module, match.group(1)):
        return ""
    names = [name for name in vars(module) if not name.startswith("_")]
    return did_you_mean(match.group(1), names)


def _close_module(error: ImportError) -> str:
    """A module close to the missing one, as a sentence: a submodule of its
    package, or a top-level module of the project's own directories on
    sys.path (not the standard library's or the installed packages', whose
    names would be guessed for every typo: 'app' is not 'zipapp').
    """
    parent, _, name = (error.name or "").rpartition(".")
    if parent:
        package = sys.modules.get(parent)
        path = getattr(package, "__path__", None)
        if path is None:
            return ""
        found = pkgutil.iter_modules(path)
        return did_you_mean(name, (m.name for m in found), prefix=f"{parent}.")
    return did_you_mean(name, (m.name for m in pkgutil.iter_modules(_own_paths())))


def _own_paths() -> list[str]:
    """The directories on sys.path that are neither in the standard library
    (lib-dynload included) nor where packages are installed.
    """
    roots = {
        os.path.realpath(path)
        for path in (*sysconfig.get_paths().values(), *site.getsitepackages())
    }
    own = []
    for entry in sys.path:
        path = os.path.realpath(entry or os.curdir)
        inside = any(path == root or path.startswith(root + os.sep) for root in roots)
        if os.path.isdir(path) and not inside:
            own.append(path)
    return own


#: Distribution names of the extensions this package reads.
_EXTENSION_DISTRIBUTIONS = {
    "flask_sqlalchemy": "Flask-SQLAlchemy",
    "flask_sqlalchemy_lite": "Flask-SQLAlchemy-Lite",
    "flask_migrate": "Flask-Migrate",
}


def _raise_if_extension_missing(setting: Setting, error: ModuleNotFoundError) -> None:
    """A missing Flask extension (a ``flask_*`` module) means the ``alembic``
    being run belongs to another environment than the app, not that the app's
    code is wrong; say so, and name the interpreter.
    """
    top_level = error.name or ""
    # Only the extension itself: a missing submodule of an installed one is
    # a bad import in the app's code, which keeps its traceback.
    if not top_level.startswith("flask_") or "." in top_level:
        return
    distribution = _EXTENSION_DISTRIBUTIONS.get(top_level)
    install = (
        f"'{sys.executable} -m pip install {distribution}'"
        if distribution
        else f"with the pip of {sys.executable}"
    )
    raise ExtensionNotInstalled(
        f"{setting.describe()}: the app imports the Flask extension"
        f" {top_level!r}, which is not installed in the Python that runs alembic"
        f" ({sys.executable}). Install it there ({install}), or run the alembic"
        " of the app's own virtual environment."
    ) from None


def _raise_if_driver_missing(setting: Setting, error: ModuleNotFoundError) -> None:
    """The app's engine could not be made because its URL names a database
    driver that is not installed: a missing ``pip install``, not a bug in
    the app, so one line instead of the traceback through its factory.
    """
    missing = missing_driver(error)
    if missing is not None:
        raise DriverNotInstalled(f"{setting.describe()}: {missing.explain()}") from None


def _is_module_missing(error: ImportError, module_name: str) -> bool:
    """True when the import failed because ``module_name`` (or a package
    above it) does not exist, rather than because its code raised.
    """
    missing = getattr(error, "name", None)
    return (
        isinstance(error, ModuleNotFoundError)
        and missing is not None
        and (module_name == missing or module_name.startswith(missing + "."))
    )
