"""Which Flask application a migration run uses, inside its app context.

Two cases, decided by whether an app context is already active:

- Migrations started from inside the app (start-up code, a ``flask`` command,
  a test fixture) use that ``current_app``; ``flask_app`` is then not read,
  and a second copy of the app is never built.
- Otherwise (the ``alembic`` command) the app that ``flask_app`` names is
  loaded (:mod:`.app_loading`) and its context pushed for the run; the run
  then owns the app's engines, which :mod:`.database` disposes.
"""

from __future__ import annotations

from collections.abc import Iterator
from collections.abc import Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING
from typing import NamedTuple

from flask import current_app
from flask import has_app_context

from ..settings import ACTIVE_APP_CONTEXT
from ..settings import APP_KEY
from ..settings import Setting
from .loading import load_configured_app

if TYPE_CHECKING:
    from alembic.config import Config
    from flask import Flask


class AppInUse(NamedTuple):
    app: Flask
    #: The setting that named the app, for error messages.
    setting: Setting
    #: Whether this run loaded the app (and so owns its engines).
    loaded_here: bool


@contextmanager
def app_in_context(
    config: Config, x_arguments: Mapping[str, str]
) -> Iterator[AppInUse]:
    """The app to migrate, with an app context active for the run."""
    if has_app_context():
        app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
        yield AppInUse(
            app, Setting(APP_KEY, app.import_name, ACTIVE_APP_CONTEXT), False
        )
        return
    app, setting = load_configured_app(config, x_arguments)
    with app.app_context():
        yield AppInUse(app, setting, loaded_here=True)
