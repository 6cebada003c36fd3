"""What the migrations run over: the app's engine, or a connection handed in.

Alembic's documented way to share a connection with ``env.py`` is
``config.attributes["connection"]`` (cookbook: "Sharing a Connection across
one or more programmatic migration commands"). Test suites use it to migrate
a throwaway database; pytest-alembic puts an ``Engine`` there. Whatever is
handed in is used as it is, and the app's own engine is then never opened.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager
from contextlib import ExitStack
from contextlib import contextmanager
from typing import TYPE_CHECKING
from typing import Protocol
from typing import cast

from sqlalchemy.engine import Connection
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from .errors import ConnectionNotUsable
from .errors import DatabaseUnreachable
from .url_masking import masked_url
from .url_masking import safe_url
from .url_masking import scrub

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.engine import URL
    from sqlalchemy.engine import Dialect

CONNECTION_ATTRIBUTE = "connection"


class Connectable(Protocol):
    """What a handed-in object other than a ``Connection`` must offer, as an
    ``Engine`` does: ``connect()`` usable as ``with ... as connection``, and
    the dialect and engine it belongs to. pytest-alembic's experimental
    ``WrappingConnection`` is one: its ``connect()`` hands back a connection
    that is already in the test's transaction.
    """

    @property
    def dialect(self) -> Dialect: ...

    @property
    def engine(self) -> Engine: ...

    def connect(self) -> AbstractContextManager[Connection]: ...


Target = Connection | Engine | Connectable


def connectable_to_migrate(config: Config, app_engine: Engine) -> Target:
    """The handed-in ``Connection``, ``Engine`` or engine-like object, else
    the app's engine.

    :raises ConnectionNotUsable: something else was handed in.
    """
    handed_in = config.attributes.get(CONNECTION_ATTRIBUTE)
    if handed_in is None:
        return app_engine
    if isinstance(handed_in, (Connection, Engine)):
        return handed_in
    if all(hasattr(handed_in, name) for name in ("connect", "dialect", "engine")):
        return cast(Connectable, handed_in)
    raise ConnectionNotUsable(
        f"config.attributes[{CONNECTION_ATTRIBUTE!r}] is a"
        f" {type(handed_in).__module__}.{type(handed_in).__qualname__}; set it to"
        " a SQLAlchemy Connection or Engine (or an object with their connect(),"
        " dialect and engine) to migrate over it, or leave it unset to migrate"
        " the Flask app's own database."
    )


@contextmanager
def connected(connectable: Target, whose: str) -> Iterator[Connection]:
    """A connection to migrate over. A handed-in ``Connection`` (or one an
    engine-like object hands out) stays open afterwards: its owner closes it.

    :param whose: says whose database this is, for the error message.
    :raises DatabaseUnreachable: connecting failed (server down, wrong
        password, ...); the message masks the password.
    """
    if isinstance(connectable, Connection):
        yield connectable
        return
    if isinstance(connectable, Engine):
        connectable = _printing_safely(connectable)
    with ExitStack() as stack:
        try:
            connection = stack.enter_context(connectable.connect())
        except DBAPIError as exc:
            url = connectable.engine.url
            raise DatabaseUnreachable(
                f"Could not connect to {safe_url(url)} ({whose}):"
                f" {_driver_message(exc, url)} {_advice(url)}"
            ) from None
        yield connection


def _printing_safely(engine: Engine) -> Engine:
    """``engine``, or a copy sharing its pool whose ``url`` has the secret
    query values masked. Alembic prints ``connection.engine.url`` itself
    (``alembic current -v``) and masks only the userinfo password; the
    connection is made from the pool's own arguments, so the copy's ``url``
    is only ever printed. The app's engine is not changed.
    """
    masked = masked_url(engine.url)
    if masked is engine.url:
        return engine
    copy = engine.execution_options()
    copy.url = masked
    return copy


def _advice(url: URL) -> str:
    if url.get_backend_name() != "sqlite":
        return (
            "Check that the server is running and reachable, and the user name"
            " and password in the app's configuration."
        )
    # (An in-memory database, "sqlite://", never fails to open.)
    path = url.database or ""
    return (
        f"SQLite could not open the file {path}: check that its directory"
        f" {os.path.dirname(os.path.abspath(path))} exists and is writable, and"
        " that the path names a file, not a directory (a relative path is"
        " relative to the working directory)."
    )


def _driver_message(error: Exception, url: URL) -> str:
    """The driver's own words on one line, with the secrets masked in case
    the driver echoes the connection string.
    """
    message = scrub(str(getattr(error, "orig", None) or error), url)
    text = " ".join(line.strip() for line in message.splitlines() if line.strip())
    return text if text.endswith((".", "?", "!")) else text + "."
