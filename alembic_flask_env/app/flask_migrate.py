"""Keep a Flask-Migrate app's migration settings under plain ``alembic``.

``Migrate(app, db, render_as_batch=False, include_object=...)`` stores its
``db``, its ``context.configure()`` arguments (``configure_args``, with
Flask-Migrate's own defaults ``compare_type=True`` and
``render_as_batch=True``) and its ``@migrate.configure`` callbacks in
``app.extensions["migrate"]``. Moving such an app to ``alembic`` must not
change what its migrations do, so all three are honoured here, by duck
typing (Flask-Migrate itself is never imported).
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any

if TYPE_CHECKING:
    from alembic.config import Config
    from flask import Flask

EXTENSION_KEY = "migrate"


def _migrate_state(app: Flask) -> Any | None:
    state = app.extensions.get(EXTENSION_KEY)
    return state if hasattr(state, "configure_args") else None


def migrate_db(app: Flask) -> Any | None:
    """The ``db`` given to ``Migrate(app, db)``, if any."""
    return getattr(_migrate_state(app), "db", None)


def migrate_configure_args(app: Flask) -> dict[str, Any]:
    """The ``context.configure()`` arguments given to ``Migrate(...)``."""
    state = _migrate_state(app)
    return dict(state.configure_args) if state is not None else {}


def call_configure_callbacks(app: Flask, config: Config) -> None:
    """Run the ``@migrate.configure`` callbacks on Alembic's config, as
    ``flask db`` does before every command.
    """
    migrate = getattr(_migrate_state(app), "migrate", None)
    if migrate is not None and hasattr(migrate, "call_configure_callbacks"):
        migrate.call_configure_callbacks(config)
