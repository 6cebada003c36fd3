"""Turn the ``flask_app`` setting into a Flask application.

The string grammar is exactly ``flask --app``'s, because the work is done by
Flask's own ``prepare_import`` and ``locate_app``: ``module``,
``module:name``, ``module:factory``, ``module:factory('arg')`` (arguments are
literals, parsed with :func:`ast.literal_eval`), ``path/to/file.py``; with no
name, ``app``, ``application``, a single Flask instance, or a
``create_app``/``make_app`` factory.

What we add is error reporting in terms of the setting the user wrote, and
one distinction Flask's messages blur: a module that does not exist is a
configuration error, but an ``ImportError`` raised *inside* the user's module
is a bug in their code and is re-raised with its own traceback.
"""

from __future__ import annotations

import re
import sys
from typing import TYPE_CHECKING

from .errors import AppNotConfigured
from .errors import AppNotFound
from .settings import APP_ENVIRONMENT_VARIABLE
from .settings import APP_KEY
from .settings import Setting

if TYPE_CHECKING:
    from flask import Flask

# Flask's own split: the first colon that is not part of a Windows drive.
_MODULE_NAME_SEPARATOR = re.compile(r":(?![\\/])")

_FORMS_HINT = (
    f"Set {APP_KEY} to 'module', 'module:app', 'module:create_app' or"
    f" \"module:create_app('arg')\", the same forms 'flask --app' accepts."
)


def require_app_setting(setting: Setting | None) -> Setting:
    if setting is None:
        raise AppNotConfigured(
            f"No Flask application is configured: '{APP_KEY}' is not set."
            f" Add '{APP_KEY} = yourpackage:create_app' under [alembic] in"
            f" alembic.ini (or under [tool.alembic] in pyproject.toml), pass"
            f" '-x {APP_KEY}=yourpackage:create_app', or set the"
            f" {APP_ENVIRONMENT_VARIABLE} environment variable."
        )
    return setting


def load_app(setting: Setting) -> Flask:
    """Import and return the application ``setting`` names.

    :raises AppNotFound: the setting does not lead to a Flask application.
    :raises Exception: whatever the user's module or factory raised.
    """
    from flask.cli import NoAppException
    from flask.cli import locate_app
    from flask.cli import prepare_import

    parts = _MODULE_NAME_SEPARATOR.split(setting.value, maxsplit=1)
    path = parts[0].strip()
    app_name = parts[1] if len(parts) == 2 else None
    if not path:
        raise AppNotFound(
            f"{setting.describe()} names no module before the colon. {_FORMS_HINT}"
        )
    if app_name is not None and not app_name.strip():
        raise AppNotFound(
            f"{setting.describe()} names no application after the colon. {_FORMS_HINT}"
        )

    module_name = prepare_import(path)
    try:
        return locate_app(module_name, app_name)
    except SyntaxError as exc:
        code = (exc.text or "").strip()
        raise AppNotFound(
            f"{setting.describe()}: Python cannot compile {exc.filename}, line"
            f" {exc.lineno}: {exc.msg}{f': {code!r}' if code else ''}. Fix the"
            " syntax error there."
        ) from None
    except ModuleNotFoundError as exc:
        # Raised by the factory rather than at import (Flask wraps those).
        _raise_if_extension_missing(setting, exc)
        raise
    except NoAppException as exc:
        cause = exc.__context__
        if isinstance(cause, ImportError):
            if isinstance(cause, ModuleNotFoundError):
                _raise_if_extension_missing(setting, cause)
            if not _is_module_missing(cause, module_name):
                # Flask folded the user's own ImportError into a message;
                # give it back with its traceback.
                raise cause from None
            raise AppNotFound(
                f"{setting.describe()}: could not import module"
                f" {module_name!r}. Check the spelling, and that the module"
                " is installed or lies in a directory on sys.path (the"
                " flask template sets 'prepend_sys_path = %(here)s', the"
                " directory of alembic.ini)."
            ) from None
        message = str(exc).strip()
        raise AppNotFound(f"{setting.describe()}: {message} {_FORMS_HINT}") from exc


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
    raise AppNotFound(
        f"{setting.describe()}: the app imports the Flask extension"
        f" {top_level!r}, which is not installed in the Python that runs alembic"
        f" ({sys.executable}). Install it there ({install}), or run the alembic"
        " of the app's own virtual environment."
    ) from None


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
