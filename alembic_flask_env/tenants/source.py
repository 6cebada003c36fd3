"""The tenants ``flask_tenants`` lists, checked before any is touched.

The callable returns either schema names (a PostgreSQL schema per tenant in
the app's database) or a mapping of tenant name to a database URL or
``Engine`` (a database per tenant). It is read once, as it streams, into a
list of small records: names and URLs, never a connection per tenant.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import TypeVar

from sqlalchemy import create_engine
from sqlalchemy.engine import URL
from sqlalchemy.engine import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.exc import NoSuchModuleError

from ..app.database import database_identity
from ..app.drivers import missing_driver
from ..app.objects import resolve_object
from ..app.objects import type_name
from ..errors import DriverNotInstalled
from ..errors import TenantsNotFound
from ..errors import first_line
from ..errors import masked_traceback
from ..settings import EXAMPLES
from ..settings import TENANTS_KEY
from ..url_masking import masked_text
from ..url_masking import safe_url

if TYPE_CHECKING:
    from ..settings import Setting

log = logging.getLogger(__name__)

#: An unquoted PostgreSQL identifier as the server stores it (folded to
#: lower case), at most 63 bytes (NAMEDATALEN - 1). "Acme" would be quoted,
#: and name another schema than the "acme" that CREATE SCHEMA Acme made.
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_$]{0,62}", re.ASCII)
_WHAT = "a callable that returns the tenants"
_RETURNS = (
    "Return an iterable of PostgreSQL schema names (['acme', 'beta']) or a"
    " mapping of tenant name to database URL or Engine"
    " ({'acme': 'postgresql://.../acme'})"
)


@dataclass(frozen=True)
class Tenant:
    """One tenant: a schema of the app's database, or a database of its own."""

    name: str
    schema: str | None = None
    url: URL | None = None
    #: An Engine the app made (and owns) for this tenant.
    engine: Engine | None = None

    def describe(self) -> str:
        if self.schema is not None:
            return f"schema {self.schema!r}"
        url = self.engine.url if self.engine is not None else self.url
        return f"database {safe_url(url)}" if url is not None else ""


@contextmanager
def own_database(tenant: Tenant) -> Iterator[Engine | None]:
    """The engine of a tenant with a database of its own: the app's Engine
    (the app disposes of it), or one made from its URL for the body and
    disposed after; None for a schema tenant, which lives in the app's
    database.
    """
    if tenant.engine is not None:
        yield tenant.engine
    elif tenant.url is not None:
        try:
            engine = create_engine(tenant.url)
        except ModuleNotFoundError as error:
            missing = missing_driver(error)
            if missing is None:
                raise
            raise DriverNotInstalled(missing.explain()) from None
        try:
            yield engine
        finally:
            engine.dispose()
    else:
        yield None


def list_tenants(setting: Setting) -> list[Tenant]:
    """Call the callable ``setting`` names (inside the app context) and
    check what it returns.

    :raises TenantsNotFound: the callable is missing or not callable, raised
        (its traceback is logged first), or returned something that names no
        tenant: not an iterable or mapping, a name twice, a schema name that
        is not an identifier, a URL that does not parse.
    """
    source = resolve_object(setting, EXAMPLES[TENANTS_KEY], _WHAT, TenantsNotFound)
    if not callable(source):
        raise TenantsNotFound(
            f"{setting.describe()} is a {type_name(source)}, not a callable. Name"
            f" a function that returns the tenants, for example {setting.key} ="
            f" {EXAMPLES[TENANTS_KEY]}."
        )
    returned = _call(source, setting)
    if isinstance(returned, Mapping):
        items = _call(lambda: list(returned.items()), setting, reading=True)
        tenants = [_database_tenant(setting, *item) for item in items]
    elif isinstance(returned, Iterable) and not isinstance(returned, (str, bytes)):
        names = _call(lambda: list(returned), setting, reading=True)
        tenants = [_schema_tenant(setting, name) for name in names]
    else:
        raise TenantsNotFound(
            f"{setting.describe()} returned a {type_name(returned)}, which lists no"
            f" tenants. {_RETURNS}."
        )
    _refuse_duplicates(setting, tenants)
    _refuse_shared_databases(setting, tenants)
    return tenants


_T = TypeVar("_T")


def _call(source: Callable[[], _T], setting: Setting, *, reading: bool = False) -> _T:
    """Call the user's code (the callable, or the iterator it returned,
    which a generator runs only as it is read).

    :raises TenantsNotFound: it raised; its traceback is logged first.
    """
    try:
        return source()
    except Exception as error:
        # The user's own code: its traceback in the log, then one line.
        log.error("%s raised:\n%s", setting.describe(), masked_traceback(error))
        raise TenantsNotFound(
            f"{setting.describe()} raised {type(error).__name__}: {first_line(error)}"
            f"{' while its tenants were read' if reading else ''} (its traceback"
            " is above); no tenant was touched. Fix the callable and run again."
        ) from None


def _schema_tenant(setting: Setting, name: object) -> Tenant:
    if not isinstance(name, str) or not _SCHEMA_NAME.fullmatch(name):
        shown = repr(name) if isinstance(name, str) else f"a {type_name(name)}"
        raise TenantsNotFound(
            f"{setting.describe()} returned {shown} among the schema names, which"
            " is not a PostgreSQL identifier as the server stores it (a"
            " lowercase letter or _, then lowercase letters, digits, _ or $, at"
            " most 63 in all). Return the tenants' schema names as"
            " pg_namespace has them; nothing was touched."
        )
    return Tenant(name, schema=name)


def _database_tenant(setting: Setting, name: object, value: object) -> Tenant:
    if not isinstance(name, str) or not name.strip() or "," in name:
        shown = repr(name) if isinstance(name, str) else f"a {type_name(name)}"
        raise TenantsNotFound(
            f"{setting.describe()} returned {shown} as a tenant name. {_RETURNS},"
            " with names that are non-empty strings without commas (-x"
            " tenants= lists them separated by commas)."
        )
    if isinstance(value, Engine):
        return Tenant(name, engine=value)
    if not isinstance(value, (str, URL)):
        raise TenantsNotFound(
            f"{setting.describe()} returned a {type_name(value)} for tenant"
            f" {name!r}, not a database URL or Engine. {_RETURNS}."
        )
    try:
        url = make_url(value)
        url.get_dialect()
    except (ArgumentError, NoSuchModuleError, ValueError) as error:
        shown = safe_url(value) if isinstance(value, URL) else masked_text(value)
        reason = first_line(error).replace(str(value), shown)
        raise TenantsNotFound(
            f"{setting.describe()} returned {shown!r} for tenant {name!r}, which"
            f" is not a database URL SQLAlchemy can use ({reason})."
            " Return a URL such as 'postgresql+psycopg://user:password@host/db'"
            " or 'sqlite:///tenants/acme.db', or an Engine; nothing was touched."
        ) from None
    return Tenant(name, url=url)


def _refuse_duplicates(setting: Setting, tenants: list[Tenant]) -> None:
    seen: set[str] = set()
    for tenant in tenants:
        if tenant.name in seen:
            raise TenantsNotFound(
                f"{setting.describe()} returned tenant {tenant.name!r} twice; each"
                " tenant must be listed once (one schema or database, one"
                " alembic_version). Remove the duplicate; nothing was touched."
            )
        seen.add(tenant.name)


def _refuse_shared_databases(setting: Setting, tenants: list[Tenant]) -> None:
    """:raises TenantsNotFound: two tenants name one database, whose one
    ``alembic_version`` they would share, so that the second never gets its
    tables (the check two binds on one database get).
    """
    first_tenant_of: dict[object, str] = {}
    for tenant in tenants:
        url = tenant.engine.url if tenant.engine is not None else tenant.url
        if url is None:
            continue
        other = first_tenant_of.setdefault(database_identity(url), tenant.name)
        if other != tenant.name:
            raise TenantsNotFound(
                f"{setting.describe()} returned tenants {other!r} and"
                f" {tenant.name!r} on the same database, {safe_url(url)}: they"
                " would share its alembic_version, so the second would never get"
                " its tables. Point each tenant at a database of its own (or"
                " return schema names for tenants that share one); nothing was"
                " touched."
            )
