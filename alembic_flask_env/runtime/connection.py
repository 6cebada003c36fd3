"""What the migrations run over: the app's engine, or a connection handed in.

Alembic's documented way to share a connection with ``env.py`` is
``config.attributes["connection"]`` (cookbook: "Sharing a Connection across
one or more programmatic migration commands"). Test suites use it to migrate
a throwaway database; pytest-alembic puts an ``Engine`` there. Whatever is
handed in is used as it is, and the app's own engine is then never opened.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator
from collections.abc import Mapping
from contextlib import AbstractContextManager
from contextlib import ExitStack
from contextlib import contextmanager
from typing import TYPE_CHECKING
from typing import NamedTuple
from typing import Protocol
from typing import cast

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from ..errors import ConnectionNotUsable
from ..errors import DatabaseNotFound
from ..errors import DatabaseUnreachable
from ..settings import CONNECT_TIMEOUT_KEY
from ..settings import Setting
from ..settings import find_setting
from ..settings import seconds
from ..url_masking import is_malformed
from ..url_masking import mask_secrets
from ..url_masking import masked_url
from ..url_masking import safe_url
from .dialects import MYSQL_DIALECTS

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


DEFAULT_CONNECT_TIMEOUT_SECONDS = 30.0
#: Dialects whose drivers take a ``connect_timeout`` argument.
_TIMEOUT_DIALECTS = ("postgresql", *MYSQL_DIALECTS)


class ConnectTimeout(NamedTuple):
    seconds: float
    #: Where it came from, for the error.
    setting: Setting


def read_connect_timeout(
    config: Config, x_arguments: Mapping[str, str]
) -> ConnectTimeout:
    """``migration_connect_timeout`` (seconds, default 30).

    :raises InvalidSetting: not a finite number of seconds.
    """
    setting = find_setting(config, x_arguments, CONNECT_TIMEOUT_KEY) or Setting(
        CONNECT_TIMEOUT_KEY, f"{DEFAULT_CONNECT_TIMEOUT_SECONDS:g}", "the default"
    )
    return ConnectTimeout(
        seconds(setting, "wait for the database server to answer"), setting
    )


@contextmanager
def connected(
    connectable: Target,
    whose: str,
    connect_timeout: ConnectTimeout | None = None,
    *,
    made_by: Engine | None = None,
    short_queries_only: bool = False,
) -> Iterator[Connection]:
    """A connection to migrate over. A handed-in ``Connection`` (or one an
    engine-like object hands out) stays open afterwards: its owner closes it.

    :param whose: says whose database this is, for the error message.
    :param connect_timeout: bounds how long connecting to a server may take
        when the app's URL sets no ``connect_timeout`` (libpq and PyMySQL
        would otherwise wait forever for a host that accepts TCP but never
        answers); the app's engine is not changed.
    :param made_by: the engine whose connect events make the connection,
        when ``connectable`` is a copy sharing its pool's creator.
    :param short_queries_only: the connection only ever runs quick
        statements (the lock's), so every read on it may be bounded by the
        connect timeout too: PyMySQL's ``connect_timeout`` covers the TCP
        connect only, and its handshake waits as long as a read may.
    :raises DatabaseUnreachable: connecting failed (server down, wrong
        password, no answer, ...); the message masks the password.
    """
    if isinstance(connectable, Connection):
        yield connectable
        return
    refuse_malformed_url(connectable.engine.url, whose)
    bound = (
        connect_timeout
        if isinstance(connectable, Engine)
        and connectable.dialect.name in _TIMEOUT_DIALECTS
        else None
    )
    source = (
        _printing_safely(connectable)
        if isinstance(connectable, Engine)
        else connectable
    )
    with ExitStack() as stack:
        started = time.monotonic()
        try:
            with _connect_timeout(made_by or connectable, bound, short_queries_only):
                opened = source.connect()
            connection = stack.enter_context(opened)
        except TypeError as exc:
            # What a driver raises for a connection argument it does not
            # take (a query parameter of the URL, or connect_args).
            if "argument" not in str(exc):
                raise
            url = connectable.engine.url
            raise DatabaseUnreachable(
                f"Could not connect to {safe_url(url)} ({whose}): its driver"
                f" ({url.get_driver_name()}) refused the connection arguments:"
                f" {mask_secrets(str(exc), url)}. Remove that parameter from the URL's"
                " query string (or from connect_args in the app's engine"
                " options), or spell it as the driver's documentation does."
            ) from None
        except DBAPIError as exc:
            url = connectable.engine.url
            if bound is not None and time.monotonic() - started >= bound.seconds:
                raise DatabaseUnreachable(
                    f"Could not connect to {safe_url(url)} ({whose}):"
                    f" {url.host}:{url.port or 'the default port'} did not answer"
                    f" within {bound.seconds:g} s ({bound.setting.describe()}). Check"
                    " that the host and port are right and that the server is up;"
                    f" if it is only slow, raise {CONNECT_TIMEOUT_KEY} (or set"
                    " connect_timeout in the app's database URL)."
                ) from None
            raise DatabaseUnreachable(
                f"Could not connect to {safe_url(url)} ({whose}):"
                f" {_driver_message(exc, url)} {_advice(url)}"
            ) from None
        yield connection


def refuse_malformed_url(url: URL, whose: str) -> None:
    """:raises DatabaseNotFound: the URL's password had an ``@`` that was
    not percent-encoded, so its tail was read as the host.
    """
    if is_malformed(url):
        raise DatabaseNotFound(
            f"The database URL of {whose}, {safe_url(url)}, is malformed: it has"
            " more than one '@', so part of the password was read as the host."
            " Percent-encode each '@' in the user name and password as %40"
            " (urllib.parse.quote(password, safe='')), or build the URL with"
            " sqlalchemy.engine.URL.create()."
        )


@contextmanager
def _connect_timeout(
    engine: Target, bound: ConnectTimeout | None, bound_reads: bool = False
) -> Iterator[None]:
    """While the migration's connection is made, pass the driver a
    ``connect_timeout`` unless the app's URL or ``connect_args`` set one
    (and, with ``bound_reads`` on MySQL, a ``read_timeout``); the listener
    is removed at once, so the app's engine is as it was.
    """
    if bound is None or not isinstance(engine, Engine):
        yield
        return
    whole_seconds = max(1, math.ceil(bound.seconds))
    mysql = engine.dialect.name in MYSQL_DIALECTS

    def add_timeout(
        dialect: object, record: object, cargs: object, cparams: dict[str, object]
    ) -> None:
        cparams.setdefault("connect_timeout", whole_seconds)
        if bound_reads and mysql:
            cparams.setdefault("read_timeout", whole_seconds)

    event.listen(engine, "do_connect", add_timeout)
    try:
        yield
    finally:
        event.remove(engine, "do_connect", add_timeout)


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
    message = mask_secrets(str(getattr(error, "orig", None) or error), url)
    text = " ".join(line.strip() for line in message.splitlines() if line.strip())
    return text if text.endswith((".", "?", "!")) else text + "."
