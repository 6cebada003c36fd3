"""Which Flask application a migration run uses, inside its app context.

Two cases, decided by whether an app context is already active:

- Migrations started from inside the app (start-up code, a ``flask`` command,
  a test fixture) use that ``current_app``; ``flask_app`` is then not needed,
  and a second copy of the app is never built.
- Otherwise (the ``alembic`` command) the app named by ``flask_app`` is loaded
  and its context pushed for the run. Its engines are disposed afterwards, so
  running migrations many times in one process leaves no pooled connections
  behind; an app that was already running keeps its pool.
"""

from __future__ import annotations

import contextvars
import logging
import traceback
from collections.abc import Iterator
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING

from .app_loading import load_app
from .app_loading import require_app_setting
from .errors import AppNotFound
from .settings import ACTIVE_APP_CONTEXT
from .settings import APP_ENVIRONMENT_VARIABLE
from .settings import APP_KEY
from .settings import Setting
from .settings import find_setting

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


@dataclass(frozen=True)
class AppInUse:
    app: Flask
    #: The setting that named the app, for error messages.
    setting: Setting
    #: Whether this run loaded the app (and so owns its engines).
    loaded_here: bool


@contextmanager
def app_in_context(
    config: Config, x_arguments: Mapping[str, str]
) -> Iterator[AppInUse]:
    from flask import current_app
    from flask import has_app_context

    if has_app_context():
        app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
        setting = Setting(APP_KEY, app.import_name, ACTIVE_APP_CONTEXT)
        yield AppInUse(app, setting, loaded_here=False)
        return

    _load_dotenv()
    setting = require_app_setting(
        find_setting(config, x_arguments, APP_KEY, APP_ENVIRONMENT_VARIABLE)
    )
    app = _load_once(setting)
    with app.app_context():
        yield AppInUse(app, setting, loaded_here=True)


def _load_once(setting: Setting) -> Flask:
    outer = _loading.get()
    if outer is not None:
        raise AppNotFound(
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
        raise AppNotFound(
            f"{setting.describe()}: loading the app raised SystemExit"
            f"({exc.code!r}){_where_raised(exc)}, so there is no app to migrate."
            " Put that exit under \"if __name__ == '__main__':\", or point"
            f" {APP_KEY} at code that builds the app without exiting."
        ) from exc
    finally:
        _loading.reset(token)


def _where_raised(error: BaseException) -> str:
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return ""
    return f" at {frames[-1].filename}, line {frames[-1].lineno}"


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
    from alembic import context

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
    from flask.cli import load_dotenv
    from flask.helpers import get_load_dotenv

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
    load_dotenv()
