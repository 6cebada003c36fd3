"""``op.get_bind()`` while a revision is recorded: a stand-in connection.

Real revisions ask their connection things: which database it is
(``op.get_bind().engine.url``, ``.dialect.name``, ``.engine.name``) to
branch per dialect, and they send SQL through it
(``op.get_bind().execute(sa.text(...))``, ``exec_driver_sql``). Alembic's
offline connection answers neither (no ``url``; its ``execute()`` writes
to the offline SQL buffer, which nobody reads), so such a revision used to
run unchecked. The stand-in answers what needs no database, records each
statement sent as ``op.execute()`` would, and raises
:class:`CannotAnswerWhileRecording` (recording then stops there, and says
so) for anything that needs the database's answer: rows, an inspector, a
transaction.

SQLAlchemy's own ``create(bind)`` / ``drop(bind)`` of a schema item (an
enum type, a table, an index, a sequence, a metadata's tables) is
answered too: it sends its DDL through the stand-in, which records it.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING
from typing import Any

from alembic.operations import ops
from sqlalchemy.engine import URL

from ..url_masking import MASK
from ..url_masking import masked_url

if TYPE_CHECKING:
    from alembic.operations.ops import MigrateOperation
    from sqlalchemy.engine import Dialect
    from sqlalchemy.engine import Engine

#: The database a check before a run is about (its engine's dialect and
#: URL), so that the stand-in answers as the real connection will.
_LIVE: ContextVar[Engine | None] = ContextVar("live_database", default=None)


@contextmanager
def answering_for(engine: Engine) -> Iterator[None]:
    """While recording inside, ``op.get_bind()`` answers with ``engine``'s
    dialect (its server version, MariaDB or not) and its URL, secrets
    masked; nothing is sent to it.
    """
    token = _LIVE.set(engine)
    try:
        yield
    finally:
        _LIVE.reset(token)


def live_key() -> tuple[object, ...]:
    """What the answers depend on, for the cache of recordings: the kind of
    database and its version, not which one (a fleet of tenants' databases
    records each revision once; a revision that branches on one database's
    name or host is recorded as the first of them answered).
    """
    engine = _LIVE.get()
    if engine is None:
        return ()
    dialect = engine.dialect
    return (
        engine.url.drivername,
        dialect.server_version_info,
        getattr(dialect, "is_mariadb", False),
    )


def _masked(url: URL) -> URL:
    url = masked_url(url)
    return url.set(password=MASK) if url.password is not None else url


class CannotAnswerWhileRecording(Exception):
    """A revision asked its connection something only the database knows."""


class _StandInEngine:
    """``op.get_bind().engine``: its dialect, name and URL. Before a run,
    the database's URL with its secrets masked; in a lint, the dialect's
    alone (``postgresql://``). Either way a revision can read its backend
    (``url.get_backend_name()``, ``url.drivername``) and nothing secret can
    leak into a report.
    """

    def __init__(self, dialect: Dialect, url: URL) -> None:
        self.dialect = dialect
        self.name = dialect.name
        self.driver = dialect.driver
        self.url = url

    def __getattr__(self, name: str) -> Any:
        raise CannotAnswerWhileRecording(
            f"op.get_bind().engine.{name} needs the database"
        )


class _UnreadResult:
    """What ``execute()`` returns: the statement was recorded, not run, so
    there are no rows to read.
    """

    def __init__(self, call: str) -> None:
        self._call = call

    def _refuse(self, what: str) -> CannotAnswerWhileRecording:
        return CannotAnswerWhileRecording(
            f"it reads the result of {self._call} ({what}), which only the database has"
        )

    def __getattr__(self, name: str) -> Any:
        raise self._refuse(f".{name}")

    def __iter__(self) -> Iterator[Any]:
        raise self._refuse("its rows")


class StandInConnection:
    """What ``op.get_bind()`` returns while recording.

    :param record: called with an ``ExecuteSQLOp`` for each statement sent.
    """

    def __init__(
        self, dialect: Dialect, record: Callable[[MigrateOperation], None]
    ) -> None:
        live = _LIVE.get()
        if live is not None:
            dialect = live.dialect
        url = _masked(live.url) if live is not None else URL.create(dialect.name)
        self.dialect = dialect
        self.engine = _StandInEngine(dialect, url)
        self._record = record

    @property
    def name(self) -> str:
        return str(self.dialect.name)

    def execute(self, statement: Any, *arguments: Any, **options: Any) -> Any:
        self._record(ops.ExecuteSQLOp(statement))
        return _UnreadResult("op.get_bind().execute()")

    def exec_driver_sql(self, statement: str, *arguments: Any, **options: Any) -> Any:
        self._record(ops.ExecuteSQLOp(statement))
        return _UnreadResult("op.get_bind().exec_driver_sql()")

    def schema_for_object(self, item: Any) -> str | None:
        """The schema a DDL statement names for ``item``: its own. (A
        ``schema_translate_map`` applies to the real run's connection.)
        """
        return getattr(item, "schema", None)

    def _run_ddl_visitor(
        self, visitorcallable: type[Any], element: Any, **options: Any
    ) -> None:
        """What ``SchemaItem.create(bind)`` and ``.drop(bind)`` call (and
        ``sa.Enum(...).create(op.get_bind(), checkfirst=True)``, the
        standard way to make a PostgreSQL enum type in a revision): the
        visitor sends its DDL to :meth:`execute`, which records it.

        ``checkfirst`` would ask the database whether the item is there;
        recording cannot, so a create is recorded as if it were not there
        (checked as made), a drop as if it were (checked as dropped): the
        statement the revision may send, never one it skips unchecked.
        """
        options["checkfirst"] = False
        visitorcallable(
            dialect=self.dialect, connection=self, **options
        ).traverse_single(element)

    def __getattr__(self, name: str) -> Any:
        raise CannotAnswerWhileRecording(f"op.get_bind().{name} needs the database")
