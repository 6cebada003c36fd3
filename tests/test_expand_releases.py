"""Two releases of one Flask-SQLAlchemy app serving from one PostgreSQL
database through an expand/contract deploy (issue 25).

Release 1's migrations folder ends at ``a1`` (``account.name``, an int
``balance``); release 2's adds ``a2`` (``expand_contract = True``: the
column renamed ``full_name``, the balance a bigint). Each release runs
``tests/projects/expand_accounts/client.py`` in its own process, a request
every 10 ms through its own models with ``VersionedSchema``; the test
moves the database through expand, contract or abort under them, and then
reads their reports: no failed request, and each read the other's
accounts under its own column name.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from conftest import NO_PREPARED_STATEMENTS
from conftest import server_url

from harness import PGBOUNCER_URL_VARIABLE
from harness import PROJECTS
from harness import Project
from harness import ProjectFactory
from harness import columns
from harness import query

pytestmark = pytest.mark.postgresql

CLIENT = "client.py"


@pytest.fixture(scope="session")
def accounts_template(
    postgresql_templates: Callable[[str, Callable[[str], None]], str],
    tmp_path_factory: pytest.TempPathFactory,
) -> str:
    """A PostgreSQL database at ``a1``, made once per session by release 1's
    real ``alembic upgrade head`` in a project of its own: each test starts
    from a copy.
    """

    def build(url: str) -> None:
        root = tmp_path_factory.mktemp("template") / "expand_accounts"
        shutil.copytree(PROJECTS / "expand_accounts", root)
        project = Project(root)
        project.env["ACCOUNTS_DATABASE_URI"] = url
        project.alembic("upgrade", "head", cwd=root / "release1")

    return postgresql_templates("expand-releases-accounts", build)


@pytest.fixture
def accounts_url(
    postgresql_clones: Callable[[str], str], accounts_template: str
) -> str:
    """A fresh PostgreSQL database at ``a1`` (a copy of the template)."""
    return postgresql_clones(accounts_template)


@pytest.fixture
def accounts(project_factory: ProjectFactory, accounts_url: str) -> Project:
    """The two releases' project on a fresh PostgreSQL database at ``a1``."""
    project = project_factory("expand_accounts")
    project.env["ACCOUNTS_DATABASE_URI"] = accounts_url
    project.server_url = accounts_url
    return project


@pytest.fixture
def bounced_accounts(project_factory: ProjectFactory, accounts_url: str) -> Project:
    """The same, both releases reaching the database through PgBouncer in
    transaction mode, as VersionedSchema(transaction_pooling=True).
    """
    from sqlalchemy.engine import make_url

    bouncer = make_url(server_url(PGBOUNCER_URL_VARIABLE, "start-pgbouncer"))
    through = make_url(accounts_url).set(host=bouncer.host, port=bouncer.port)
    project = project_factory("expand_accounts")
    project.env["ACCOUNTS_DATABASE_URI"] = through.render_as_string(hide_password=False)
    project.env["ACCOUNTS_ENGINE_OPTIONS"] = json.dumps(
        {"connect_args": json.loads(NO_PREPARED_STATEMENTS)}
    )
    project.env["ACCOUNTS_TRANSACTION_POOLING"] = "1"
    project.server_url = accounts_url
    return project


class Serving:
    """A release's client process and its report."""

    def __init__(self, project: Project, release: str) -> None:
        self.report_path = project.root / f"{release}.json"
        self.stop_path = project.root / f"{release}.stop"
        self.log_path = project.root / f"{release}.log"
        self.log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [
                sys.executable,
                CLIENT,
                release,
                str(self.report_path),
                str(self.stop_path),
            ],
            cwd=project.root,
            env=project.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def report(self) -> dict[str, Any]:
        if not self.report_path.exists():
            return {"requests": 0, "failed": 0, "others_seen": []}
        result: dict[str, Any] = json.loads(self.report_path.read_text())
        return result

    def wait_for(self, what: str, condition: Callable[[dict[str, Any]], bool]) -> None:
        """Until the report satisfies ``condition``; fails with the report
        and the client's output after a minute or if the client exits.
        """
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.process.poll() is None:
            if condition(self.report()):
                return
            time.sleep(0.05)
        pytest.fail(f"waiting for {what}: {self.report()}\n{self.output()}")

    def served(self, more: int = 10) -> None:
        """Wait until ``more`` further requests are made."""
        start = self.report()["requests"]
        self.wait_for(f"{more} requests", lambda r: r["requests"] >= start + more)

    def stop(self) -> dict[str, Any]:
        self.stop_path.touch()
        try:
            self.process.wait(timeout=60)
        finally:
            self.process.kill()
            self.log.close()
        return self.report()

    def output(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text()


@contextmanager
def serving(project: Project, release: str) -> Iterator[Serving]:
    client = Serving(project, release)
    try:
        yield client
    finally:
        if client.process.poll() is None:
            client.stop()


def assert_served_without_error(report: dict[str, Any], output: str) -> None:
    assert report["failed"] == 0, (report["errors"], output)
    assert report["nameless"] == []
    assert report["balances_ok"]
    assert report["requests"] > 0


# -- The deploy's steps, run in release 2's folder as its deploy job would.


def expand(project: Project) -> str:
    """Release 2's ``alembic upgrade head``: the expand phase of ``a2``."""
    return project.output(
        project.alembic("upgrade", "head", cwd=project.root / "release2")
    )


def contract(project: Project) -> str:
    return _package_command(project, "contract")


def abort(project: Project) -> str:
    return _package_command(project, "abort")


def _package_command(project: Project, command: str) -> str:
    result = project.python(
        "-m", "alembic_flask_env", command, cwd=project.root / "release2"
    )
    return project.output(result)


def _our_schemas(project: Project) -> list[tuple[object, ...]]:
    return query(
        project, "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'afe_v_%'"
    )


def test_both_releases_serve_through_expand_and_contract(accounts: Project) -> None:
    with serving(accounts, "release1") as old:
        old.served()
        expand(accounts)
        old.served()
        with serving(accounts, "release2") as new:
            new.wait_for("release 1's accounts", lambda r: r["others_seen"])
            old.wait_for("release 2's accounts", lambda r: r["others_seen"])
            old_report = old.stop()
            assert_served_without_error(old_report, old.output())
            new.served()
            contract(accounts)
            new.served(20)
            new_report = new.stop()
            assert_served_without_error(new_report, new.output())
    assert any(name.startswith("release2-") for name in old_report["others_seen"])
    assert any(name.startswith("release1-") for name in new_report["others_seen"])
    assert columns(accounts, "account") == ["id", "full_name", "balance"]
    assert query(accounts, "SELECT version_num FROM alembic_version") == [("a2",)]
    assert _our_schemas(accounts) == []
    # Every request of both releases wrote one account, and each is there.
    written = old_report["requests"] + new_report["requests"]
    assert query(accounts, "SELECT count(*), count(full_name) FROM account") == [
        (written, written)
    ]
    # Each balance, whichever release wrote it and whether the backfill or
    # a trigger converted it, is the number its name ends with.
    wrong = query(
        accounts,
        "SELECT count(*) FROM account"
        " WHERE balance IS DISTINCT FROM split_part(full_name, '-', 2)::bigint",
    )
    assert wrong == [(0,)]
    assert query(
        accounts,
        "SELECT data_type FROM information_schema.columns"
        " WHERE table_name = 'account' AND column_name = 'balance'",
    ) == [("bigint",)]


def test_release_1_serves_on_after_an_abort(accounts: Project) -> None:
    with serving(accounts, "release1") as old:
        old.served()
        expand(accounts)
        with serving(accounts, "release2") as new:
            new.wait_for("release 1's accounts", lambda r: r["others_seen"])
            new_report = new.stop()
        abort(accounts)
        old.served(20)
        old_report = old.stop()
    assert_served_without_error(old_report, old.output())
    assert_served_without_error(new_report, new.output())
    assert columns(accounts, "account") == ["id", "name", "balance"]
    assert query(accounts, "SELECT version_num FROM alembic_version") == [("a1",)]
    assert _our_schemas(accounts) == []
    written = old_report["requests"] + new_report["requests"]
    assert query(accounts, "SELECT count(*), count(name) FROM account") == [
        (written, written)
    ]


def test_a_release_the_database_has_not_reached_fails_each_request_saying_why(
    accounts: Project,
) -> None:
    with serving(accounts, "release2") as new:
        new.wait_for("a failed request", lambda r: r["failed"] >= 2)
        report = new.stop()
    assert report["failed"] == report["requests"]
    migrations = accounts.root / "release2" / "migrations"
    assert report["errors"][0] == (
        f"ReleaseNotMigrated: This release's migrations folder ({migrations}) ends"
        " at revision 'a2', but the database is at 'a1': its tables are not yet"
        " what this code expects. Run 'alembic upgrade head' (with this"
        " release's migrations) before starting this release."
    )


def test_on_sqlite_connections_are_left_alone_and_it_says_so(
    project_factory: ProjectFactory,
) -> None:
    project = project_factory("expand_accounts")
    project.env["ACCOUNTS_DATABASE_URI"] = f"sqlite:///{project.root / 'a.db'}"
    project.alembic("upgrade", "head", cwd=project.root / "release1")
    with serving(project, "release1") as old:
        old.served()
        report = old.stop()
    assert_served_without_error(report, old.output())
    assert (
        "INFO [alembic_flask_env.expand.versioned_schema] VersionedSchema: engine"
        " default of Flask app 'accounts' is sqlite, not PostgreSQL: its"
        " connections are left alone (expand/contract runs on PostgreSQL only)"
    ) in old.output().splitlines()


@pytest.mark.pgbouncer
def test_through_pgbouncer_the_path_is_set_in_every_transaction(
    bounced_accounts: Project,
) -> None:
    with serving(bounced_accounts, "release1") as old:
        old.served()
        expand(bounced_accounts)
        with serving(bounced_accounts, "release2") as new:
            new.wait_for("release 1's accounts", lambda r: r["others_seen"])
            old.wait_for("release 2's accounts", lambda r: r["others_seen"])
            new.served(50)
            old.served(50)
            new_report = new.stop()
        old_report = old.stop()
    assert_served_without_error(old_report, old.output())
    assert_served_without_error(new_report, new.output())
    assert "in every transaction" in new.output()
    assert "WARNING" not in new.output()


@pytest.mark.pgbouncer
def test_through_pgbouncer_without_transaction_pooling_it_warns(
    bounced_accounts: Project,
) -> None:
    # (The search_path then leaks between the releases' server connections:
    # both fail requests, which is why transaction_pooling exists.)
    bounced_accounts.env.pop("ACCOUNTS_TRANSACTION_POOLING")
    expand(bounced_accounts)
    with serving(bounced_accounts, "release2") as new:
        new.served()
        new.stop()
    [warning] = [line for line in new.output().splitlines() if "WARNING" in line]
    assert warning.startswith(
        "WARNING [alembic_flask_env.expand.versioned_schema] VersionedSchema:"
        " postgresql+psycopg://"
    )
    assert warning.endswith(
        " if that is a pooler in transaction mode (PgBouncer pool_mode ="
        " transaction), the search_path set on each connection leaks to the other"
        " release's clients; pass VersionedSchema(..., transaction_pooling=True)"
    )
    assert ":***@" in warning


def test_flask_sqlalchemy_lite_engines_are_checked_too(
    project_factory: ProjectFactory, postgresql_url: str
) -> None:
    """In process: an app of Flask-SQLAlchemy-Lite, on a database never
    migrated, is refused at its first connection.
    """
    from flask import Flask
    from flask_sqlalchemy_lite import SQLAlchemy

    from alembic_flask_env import ReleaseNotMigrated
    from alembic_flask_env import VersionedSchema

    project = project_factory("expand_accounts")
    app = Flask("lite")
    app.config["SQLALCHEMY_ENGINES"] = {"default": postgresql_url}
    db = SQLAlchemy(app)
    VersionedSchema(app, directory=project.root / "release2" / "migrations")
    with app.app_context():
        try:
            with pytest.raises(ReleaseNotMigrated, match="at no revision"):
                db.engine.connect()
        finally:
            db.engine.dispose()


def _reads_of_alembic_version(project: Project) -> int:
    [(scans,)] = query(
        project,
        "SELECT seq_scan + coalesce(idx_scan, 0) FROM pg_stat_user_tables"
        " WHERE relname = 'alembic_version'",
    )
    return int(str(scans))


def test_the_state_costs_one_query_per_new_connection_not_per_request(
    accounts: Project,
) -> None:
    """PostgreSQL counts the reads of alembic_version (the state query's
    table); a backend's counts reach the statistics when it exits, so the
    client is stopped before they are read.
    """
    expand(accounts)
    before = _reads_of_alembic_version(accounts)
    with serving(accounts, "release2") as new:
        new.served(50)
        report = new.stop()
    assert_served_without_error(report, new.output())
    deadline = time.monotonic() + 10
    while _reads_of_alembic_version(accounts) == before:
        assert time.monotonic() < deadline, "the client's reads were never counted"
        time.sleep(0.1)
    time.sleep(1)  # any later count would come in by now
    # One pooled connection served every request: one read.
    assert _reads_of_alembic_version(accounts) - before == 1


def test_an_app_upgrading_its_own_database_is_not_refused_meanwhile(
    project_factory: ProjectFactory, postgresql_url: str
) -> None:
    """The upgrade's connections come from the app's own engine while the
    database is behind the release: they are the migration's, left alone,
    and checked when the app uses them after.
    """
    project = project_factory("expand_accounts")
    project.env["ACCOUNTS_DATABASE_URI"] = postgresql_url
    project.server_url = postgresql_url
    result = project.python("upgrade_in_process.py", "release1")
    assert result.stdout == "accounts: 1\n"
    assert query(project, "SELECT version_num FROM alembic_version") == [("a1",)]


def test_other_binds_are_left_alone_by_default(
    accounts: Project, postgresql_databases: Callable[[], str]
) -> None:
    """A bind this migrations folder does not migrate (a reporting
    database, say, with no alembic_version) does not stop the release.
    """
    reports = postgresql_databases()
    accounts.env["ACCOUNTS_BINDS"] = json.dumps({"reports": reports})
    with serving(accounts, "release1") as old:
        old.served()
        report = old.stop()
    assert_served_without_error(report, old.output())
    assert (
        "INFO [alembic_flask_env.expand.versioned_schema] VersionedSchema: engine"
        " reports of Flask app 'accounts' is left alone: expand/contract changes"
        " the default database (binds=['default'])"
    ) in old.output().splitlines()


@pytest.mark.pgbouncer
def test_transaction_pooling_refuses_an_engine_in_autocommit(
    bounced_accounts: Project,
) -> None:
    expand(bounced_accounts)
    bounced_accounts.env["ACCOUNTS_ENGINE_OPTIONS"] = json.dumps(
        {
            "connect_args": json.loads(NO_PREPARED_STATEMENTS),
            "isolation_level": "AUTOCOMMIT",
        }
    )
    with serving(bounced_accounts, "release2") as new:
        new.wait_for("a failed request", lambda r: r["failed"] >= 2)
        report = new.stop()
    assert report["failed"] == report["requests"]
    error = report["errors"][0]
    assert error.startswith(
        "InvalidSetting: VersionedSchema(transaction_pooling=True) sets the"
        " search_path of each transaction, but engine postgresql+psycopg://"
    )
    assert error.endswith(
        " runs in AUTOCOMMIT isolation, where no transaction keeps it: its"
        " statements would miss the version schema afe_v_a2. Drop"
        " isolation_level='AUTOCOMMIT' from the engine options, or connect this"
        " release without the transaction pooler during the deploy."
    )
    assert ":***@" in error


def test_an_app_without_its_sqlalchemy_extension_yet_is_refused(
    project_factory: ProjectFactory,
) -> None:
    """In process: VersionedSchema before db.init_app(app)."""
    from flask import Flask

    from alembic_flask_env import VersionedSchema
    from alembic_flask_env.errors import DatabaseNotFound

    project = project_factory("expand_accounts")
    with pytest.raises(DatabaseNotFound) as raised:
        VersionedSchema(
            Flask("early"), directory=project.root / "release1" / "migrations"
        )
    assert str(raised.value) == (
        "VersionedSchema found no SQLAlchemy extension on Flask app 'early'"
        " (app.extensions has no 'sqlalchemy' entry). Call db.init_app(app)"
        " (Flask-SQLAlchemy 3.x or Flask-SQLAlchemy-Lite) before"
        " VersionedSchema(app, ...) or versioned.init_app(app)."
    )
