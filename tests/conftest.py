"""Fixtures: a mini-project from ``tests/projects/`` copied into ``tmp_path``."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Callable
from collections.abc import Generator
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Protocol

import pytest

from harness import MARIADB_URL_VARIABLE
from harness import PGBOUNCER_URL_VARIABLE
from harness import POSTGRESQL_URL_VARIABLE
from harness import PROJECTS
from harness import Project
from harness import ProjectFactory
from harness import write_revision
from start_states import StartStates

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection


@pytest.fixture(scope="session")
def initialised_projects(
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[[str, str], Path]:
    """A project of ``tests/projects/`` after ``alembic init -t TEMPLATE
    migrations``, made once per session (and xdist worker) and then only
    copied: most tests start from one, and each init costs an ``alembic``
    subprocess.
    """
    made: dict[tuple[str, str], Path] = {}

    def get(name: str, template: str) -> Path:
        if (name, template) not in made:
            root = tmp_path_factory.mktemp(f"{name}-{template}") / "project"
            shutil.copytree(PROJECTS / name, root)
            Project(root).init(template)
            made[name, template] = root
        return made[name, template]

    return get


@pytest.fixture(scope="session")
def start_states(tmp_path_factory: pytest.TempPathFactory) -> StartStates:
    """States after real ``alembic`` runs, made once per session (and xdist
    worker) and then copied (see tests/start_states.py).
    """
    return StartStates(tmp_path_factory)


@pytest.fixture
def project_factory(
    tmp_path: Path, initialised_projects: Callable[[str, str], Path]
) -> ProjectFactory:
    """Copies a project into ``tmp_path / subdir``: as it is, or initialised
    with ``template`` and with ``settings`` set in its alembic.ini.
    """

    def make(
        name: str, subdir: str = "project", template: str = "", **settings: str
    ) -> Project:
        root = tmp_path / subdir
        source = initialised_projects(name, template) if template else PROJECTS / name
        shutil.copytree(source, root)
        project = Project(root)
        for key, value in settings.items():
            project.set_ini_option(key, value)
        return project

    return make


@pytest.fixture
def blog(project_factory: ProjectFactory) -> Project:
    """The blog project, initialised with the flask template and flask_app set."""
    return project_factory("blog", template="flask", flask_app="blogapp:create_app")


@pytest.fixture
def multiblog(project_factory: ProjectFactory) -> Project:
    """The two-bind blog, initialised with the flask-multidb template."""
    return project_factory(
        "multiblog", template="flask-multidb", flask_app="multiblog:create_app"
    )


def server_url(variable: str, script: str) -> str:
    """The URL a ``.ci/start-*`` script exported; without it the test
    skips, or fails under CI, where every server must be running.
    """
    url = os.environ.get(variable)
    if not url:
        message = (
            f"{variable} is not set; start a server with"
            f" 'eval \"$(sudo bash .ci/{script})\"' (see README)"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return url


@pytest.fixture
def postgresql_databases() -> Iterator[Callable[[], str]]:
    """Makes fresh, empty PostgreSQL databases for one test: each call
    returns a new one's URL, password included (``.ci/start-postgresql`` makes
    one with ``%``, ``@`` and ``:``). They are dropped after the test.
    """
    server = server_url(POSTGRESQL_URL_VARIABLE, "start-postgresql")
    yield from _databases(server, "DROP DATABASE {} WITH (FORCE)", '"{}"')


@pytest.fixture
def mariadb_databases() -> Iterator[Callable[[], str]]:
    """The same for the MariaDB server of ``.ci/start-mariadb``."""
    server = server_url(MARIADB_URL_VARIABLE, "start-mariadb")
    yield from _databases(server, "DROP DATABASE {}", "`{}`")


class _MakeDatabase(Protocol):
    def __call__(self, template: str = "") -> str: ...


#: How a database is made a copy of a template: on the server's
#: connection, the new database's name, the template's.
_Copy = Callable[["Connection", str, str], None]


def _databases(
    server: str, drop: str, quoted: str, copy: _Copy | None = None
) -> Generator[_MakeDatabase, None, None]:
    from sqlalchemy import create_engine
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    names: list[str] = []

    def make(template: str = "") -> str:
        name = f"test_{uuid.uuid4().hex[:12]}"
        with admin.connect() as connection:
            if template and copy is not None:
                copy(connection, name, template)
            else:
                connection.execute(text(f"CREATE DATABASE {quoted.format(name)}"))
        names.append(name)
        return make_url(server).set(database=name).render_as_string(hide_password=False)

    try:
        yield make
    finally:
        with admin.connect() as connection:
            for name in names:
                connection.execute(text(drop.format(quoted.format(name))))
        admin.dispose()


#: ``template(key, build)``: see :func:`postgresql_templates`.
Templates = Callable[[str, Callable[[str], None]], str]


@pytest.fixture(scope="session")
def template_blogs(
    tmp_path_factory: pytest.TempPathFactory,
    initialised_projects: Callable[[str, str], Path],
) -> Callable[[str], Project]:
    """``template_blogs(url)``: a blog project of its own (initialised with
    the flask template, flask_app set) on ``url``, to build a template
    database with the real commands.
    """

    def make(url: str) -> Project:
        root = tmp_path_factory.mktemp("template") / "project"
        shutil.copytree(initialised_projects("blog", "flask"), root)
        project = Project(root)
        project.set_ini_option("flask_app", "blogapp:create_app")
        project.env["BLOGAPP_DATABASE_URI"] = url
        return project

    return make


def upgraded_to(
    template_blogs: Callable[[str], Project], revision: str, body: str
) -> Callable[[str], None]:
    """A ``build`` for :func:`postgresql_templates` or
    :func:`mariadb_templates`: the database brought to ``revision`` (whose
    ``upgrade()`` is ``body``) the way a test would, by ``alembic upgrade``
    in a blog project of its own, so it holds what that run leaves (the
    ledger table included).
    """

    def build(url: str) -> None:
        project = template_blogs(url)
        write_revision(project, revision, None, body)
        project.alembic("upgrade", revision)

    return build


@pytest.fixture(scope="session")
def postgresql_templates() -> Iterator[Templates]:
    """Start states made once per session (and xdist worker), to be copied
    per test by :func:`postgresql_clones` instead of reached by an
    ``alembic upgrade`` subprocess in every test: ``template(key, build)``
    is the name of a PostgreSQL database that ``build(url)`` brought to the
    state, made the first time ``key`` is asked for. Dropped at the end.
    """
    server = server_url(POSTGRESQL_URL_VARIABLE, "start-postgresql")
    yield from _templates(server, "DROP DATABASE {} WITH (FORCE)", '"{}"')


@pytest.fixture
def postgresql_clones() -> Iterator[Callable[[str], str]]:
    """Fresh copies of a template of :func:`postgresql_templates` for one
    test: ``clone(template)`` is a new one's URL. ``CREATE DATABASE ...
    TEMPLATE`` copies the files: the tables, rows, statistics (``ANALYZE``'s
    reltuples) and alembic_version the build left. Dropped after the test.
    """
    server = server_url(POSTGRESQL_URL_VARIABLE, "start-postgresql")
    yield from _databases(
        server, "DROP DATABASE {} WITH (FORCE)", '"{}"', _copy_postgresql
    )


@pytest.fixture(scope="session")
def mariadb_templates() -> Iterator[Templates]:
    """The same for the MariaDB server of ``.ci/start-mariadb``."""
    server = server_url(MARIADB_URL_VARIABLE, "start-mariadb")
    yield from _templates(server, "DROP DATABASE {}", "`{}`")


@pytest.fixture
def mariadb_clones() -> Iterator[Callable[[str], str]]:
    """Fresh copies of a template of :func:`mariadb_templates` for one
    test. MariaDB has no database templates: each table is made ``LIKE``
    the template's (columns, indexes, options) and filled with its rows, in
    this process (see :func:`_copy_mariadb` for what it refuses to copy).
    """
    server = server_url(MARIADB_URL_VARIABLE, "start-mariadb")
    yield from _databases(server, "DROP DATABASE {}", "`{}`", _copy_mariadb)


def _templates(server: str, drop: str, quoted: str) -> Iterator[Templates]:
    from sqlalchemy.engine import make_url

    databases = _databases(server, drop, quoted)
    make = next(databases)
    made: dict[str, str] = {}

    def template(key: str, build: Callable[[str], None]) -> str:
        if key not in made:
            url = make()
            build(url)
            name = make_url(url).database
            assert name is not None
            made[key] = name
        return made[key]

    try:
        yield template
    finally:
        databases.close()  # drops them


def _copy_postgresql(connection: Connection, name: str, template: str) -> None:
    from sqlalchemy import text

    # (A session still on the template would make this fail; the builds'
    # sessions are closed, and PostgreSQL ends autovacuum's itself.)
    connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))


def _copy_mariadb(connection: Connection, name: str, template: str) -> None:
    """Each base table of ``template``, made ``LIKE`` it in ``name`` and
    filled with its rows. What ``LIKE`` would not carry over (foreign keys)
    or ``INSERT ... SELECT *`` cannot fill (generated columns), and views,
    triggers and routines, are refused: a template needing them would be
    copied wrong.
    """
    from sqlalchemy import text

    schema = {"schema": template}
    unsupported = {
        "foreign keys": "SELECT constraint_name FROM"
        " information_schema.referential_constraints"
        " WHERE constraint_schema = :schema",
        "generated columns": "SELECT column_name FROM information_schema.columns"
        " WHERE table_schema = :schema AND is_generated = 'ALWAYS'",
        "views": "SELECT table_name FROM information_schema.views"
        " WHERE table_schema = :schema",
        "triggers": "SELECT trigger_name FROM information_schema.triggers"
        " WHERE trigger_schema = :schema",
        "routines": "SELECT routine_name FROM information_schema.routines"
        " WHERE routine_schema = :schema",
    }
    for what, sql in unsupported.items():
        found = [str(row[0]) for row in connection.execute(text(sql), schema)]
        if found:
            raise ValueError(
                f"the MariaDB template {template} has {what} ({', '.join(found)}),"
                " which mariadb_clones cannot copy; make that state in each"
                " test instead."
            )
    tables = connection.execute(
        text(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = :schema AND table_type = 'BASE TABLE'"
        ),
        schema,
    )
    connection.execute(text(f"CREATE DATABASE `{name}`"))
    try:
        for (table,) in list(tables):
            connection.execute(
                text(f"CREATE TABLE `{name}`.`{table}` LIKE `{template}`.`{table}`")
            )
            connection.execute(
                text(
                    f"INSERT INTO `{name}`.`{table}`"
                    f" SELECT * FROM `{template}`.`{table}`"
                )
            )
    except BaseException:
        connection.execute(text(f"DROP DATABASE `{name}`"))
        raise


@pytest.fixture
def postgresql_url(postgresql_databases: Callable[[], str]) -> str:
    """A fresh, empty PostgreSQL database for one test; its URL."""
    return postgresql_databases()


@pytest.fixture
def pg(blog: Project, postgresql_url: str) -> Project:
    """The blog project pointed at a fresh PostgreSQL database."""
    blog.env["BLOGAPP_DATABASE_URI"] = postgresql_url
    blog.server_url = postgresql_url
    return blog


@pytest.fixture
def pgbouncer_url(postgresql_url: str) -> str:
    """A fresh PostgreSQL database, reached through the PgBouncer of
    ``.ci/start-pgbouncer`` (transaction pooling).
    """
    from sqlalchemy.engine import make_url

    bouncer = make_url(server_url(PGBOUNCER_URL_VARIABLE, "start-pgbouncer"))
    url = make_url(postgresql_url).set(host=bouncer.host, port=bouncer.port)
    return url.render_as_string(hide_password=False)


#: psycopg 3 prepares a statement it has run five times, which PgBouncer
#: 1.18 in transaction mode cannot route; apps behind it turn that off.
NO_PREPARED_STATEMENTS = json.dumps({"prepare_threshold": None})


@pytest.fixture
def bounced(blog: Project, pgbouncer_url: str, postgresql_url: str) -> Project:
    """The blog project on a fresh PostgreSQL database, through PgBouncer;
    ``server_url`` is the direct one, for the checks.
    """
    blog.env["BLOGAPP_DATABASE_URI"] = pgbouncer_url
    blog.env["BLOGAPP_CONNECT_ARGS"] = NO_PREPARED_STATEMENTS
    blog.server_url = postgresql_url
    return blog


@pytest.fixture
def maria(blog: Project, mariadb_databases: Callable[[], str]) -> Project:
    """The blog project pointed at a fresh MariaDB database."""
    url = mariadb_databases()
    blog.env["BLOGAPP_DATABASE_URI"] = url
    blog.server_url = url
    return blog


#: Markers of the tests that take longest: the servers' (parallel deploys,
#: pauses that widen race windows, timeouts waited out) and then the slow
#: end-to-end cases.
_LONGEST_FIRST = ("pgbouncer", "postgresql", "mariadb", "slow")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the longest tests first. pytest-xdist hands tests out in this
    order, so a long test started last would leave one worker running it
    alone while the other idles; started first, the short tests fill in
    around it. (A stable sort: the order within a rank is the files'.)
    """

    def rank(item: pytest.Item) -> int:
        for position, marker in enumerate(_LONGEST_FIRST):
            if item.get_closest_marker(marker) is not None:
                return position
        return len(_LONGEST_FIRST)

    items.sort(key=rank)
