"""What the migrations run over: the app's engine, or a connection handed in.

Alembic's documented way to share a connection with ``env.py`` is
``config.attributes["connection"]`` (cookbook: "Sharing a Connection across
one or more programmatic migration commands"). Test suites use it to migrate
a throwaway database; pytest-alembic puts an ``Engine`` there. Whatever is
handed in is used as it is, and the app's own engine is then never opened.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from .errors import FlaskEnvError

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.engine import Connection
    from sqlalchemy.engine import Engine

CONNECTION_ATTRIBUTE = "connection"


def connectable_to_migrate(config: Config, app_engine: Engine) -> Connection | Engine:
    """The handed-in ``Connection`` or ``Engine``, else the app's engine.

    :raises FlaskEnvError: something else was handed in.
    """
    from sqlalchemy.engine import Connection
    from sqlalchemy.engine import Engine

    handed_in = config.attributes.get(CONNECTION_ATTRIBUTE)
    if handed_in is None:
        return app_engine
    if isinstance(handed_in, (Connection, Engine)):
        return handed_in
    raise FlaskEnvError(
        f"config.attributes[{CONNECTION_ATTRIBUTE!r}] is a"
        f" {type(handed_in).__module__}.{type(handed_in).__qualname__}; set it to"
        " a SQLAlchemy Connection or Engine to migrate over it, or leave it unset"
        " to migrate the Flask app's own database."
    )


@contextmanager
def connected(connectable: Connection | Engine) -> Iterator[Connection]:
    """A connection to migrate over. A handed-in ``Connection`` stays open
    afterwards: its owner closes it.
    """
    from sqlalchemy.engine import Connection

    if isinstance(connectable, Connection):
        yield connectable
    else:
        with connectable.connect() as connection:
            yield connection
