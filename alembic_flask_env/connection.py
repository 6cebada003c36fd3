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


class DatabaseUnreachable(FlaskEnvError):
    """The database could not be connected to."""


@contextmanager
def connected(connectable: Connection | Engine, whose: str) -> Iterator[Connection]:
    """A connection to migrate over. A handed-in ``Connection`` stays open
    afterwards: its owner closes it.

    :param whose: says whose database this is, for the error message.
    :raises DatabaseUnreachable: connecting failed (server down, wrong
        password, ...); the message masks the password.
    """
    from sqlalchemy.engine import Connection
    from sqlalchemy.exc import DBAPIError

    if isinstance(connectable, Connection):
        yield connectable
        return
    try:
        connection = connectable.connect()
    except DBAPIError as exc:
        url = connectable.url
        raise DatabaseUnreachable(
            f"Could not connect to {url.render_as_string(hide_password=True)}"
            f" ({whose}): {_driver_message(exc, url.password)} Check that the"
            " server is running and reachable, and the user name and password"
            " in the app's configuration."
        ) from None
    with connection:
        yield connection


def _driver_message(error: Exception, password: str | None) -> str:
    """The driver's own words on one line, with the password masked in case
    the driver echoes the connection string.
    """
    from urllib.parse import quote_plus

    message = str(getattr(error, "orig", None) or error)
    if password:
        for secret in (password, quote_plus(password)):
            message = message.replace(secret, "***")
    text = " ".join(line.strip() for line in message.splitlines() if line.strip())
    return text if text.endswith(".") else text + "."
