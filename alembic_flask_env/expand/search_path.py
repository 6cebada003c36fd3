"""The one query a new connection of a release costs, and what its answer
means.

A release must learn, once per new connection, whether the database stands
at its head with an expand pending (then its tables are the views of the
head's version schema) or not. Both facts fit in one round trip: the
database's revision(s) from ``alembic_version``, joined to the version
schema of each of the release's heads where that schema exists. The expand
machinery makes the schema and moves ``alembic_version`` to the head in one
transaction and drops it at contract or abort, so "the database is at H and
H's version schema exists" is "H is expanded". In session mode the same
statement also puts the schema first on the ``search_path``
(``set_config``), so a pending expand costs no second round trip either.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass

#: Alembic's version table (the default name: VersionedSchema reads the
#: table the default ``version_table`` setting makes).
VERSION_TABLE = "alembic_version"


def sql_literal(value: str) -> str:
    """``value`` as a standard SQL string literal (quotes doubled; PostgreSQL
    reads backslashes as themselves since 9.1's standard_conforming_strings).
    Inlined rather than bound because the query runs on the raw DBAPI
    connection, whose parameter style depends on the driver.
    """
    return "'" + value.replace("'", "''") + "'"


def prepend_search_path(schema: str, local: bool) -> str:
    """A ``set_config`` expression putting ``schema`` before the
    connection's current ``search_path`` (kept whole: ``"$user", public``
    or whatever the role or URL set).
    """
    return (
        f"set_config('search_path', quote_ident({schema})"
        f" || ', ' || current_setting('search_path'), {'true' if local else 'false'})"
    )


def state_query(version_schemas: Mapping[str, str], set_path: bool) -> str:
    """The per-connection query: one row per revision in ``alembic_version``
    with the version schema of the release's head it is, if that schema
    exists; with ``set_path``, that schema is put first on the session's
    ``search_path`` by the same statement.
    """
    pairs = ", ".join(
        f"({sql_literal(head)}, {sql_literal(schema)})"
        for head, schema in sorted(version_schemas.items())
    )
    setting = prepend_search_path("n.nspname", local=False)
    applied = (
        f"CASE WHEN n.nspname IS NOT NULL THEN {setting} END" if set_path else "NULL"
    )
    return (
        f"SELECT v.version_num, n.nspname, {applied}, inet_server_port()"
        f" FROM {VERSION_TABLE} AS v"
        f" LEFT JOIN (VALUES {pairs}) AS h (revision, version_schema)"
        " ON h.revision = v.version_num"
        " LEFT JOIN pg_catalog.pg_namespace AS n ON n.nspname = h.version_schema"
    )


def local_path_statement(schema: str) -> str:
    """For a pooler in transaction mode: the schema first on the
    ``search_path`` of the current transaction only.
    """
    return f"SELECT {prepend_search_path(sql_literal(schema), True)}"


@dataclass(frozen=True)
class DatabaseState:
    """The answer of :func:`state_query`."""

    #: The database's revisions (``alembic_version``).
    revisions: tuple[str, ...]
    #: The version schema of the release's head that is pending, if any.
    version_schema: str | None
    #: The port the server took the connection on (None over a Unix
    #: socket): another port than the URL's means a pooler or a proxy.
    server_port: int | None = None


def behind_a_proxy(url_port: int | None, state: DatabaseState) -> bool:
    """Whether the server took the connection on another port than the
    URL names: PgBouncer (6432 in front of 5432), or a proxy or a
    forwarded port. Only a hint, so only ever a warning.
    """
    return state.server_port is not None and state.server_port != (url_port or 5432)


def read_state(rows: Sequence[Sequence[object]]) -> DatabaseState:
    """:func:`state_query`'s rows as a :class:`DatabaseState`."""
    schemas = sorted({str(row[1]) for row in rows if row[1] is not None})
    return DatabaseState(
        revisions=tuple(sorted(str(row[0]) for row in rows)),
        # The expand machinery refuses a second pending expand, so there is
        # at most one: the first, for a stable answer all the same.
        version_schema=schemas[0] if schemas else None,
        server_port=next(
            (int(str(row[3])) for row in rows if row[3] is not None), None
        ),
    )
