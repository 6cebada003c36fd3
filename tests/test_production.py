"""Deploys in production: behind PgBouncer in transaction pooling mode, under
table locks held by the app, and against a host that never answers.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine
from sqlalchemy import text
from sqlalchemy.engine import Connection

from alembic_flask_env.runtime.lock.keys import lock_id

from harness import Project
from harness import assert_each_deploy_revision_ran_once
from harness import columns
from harness import other_session
from harness import parallel_upgrades
from harness import query
from harness import upgrade_in_process
from harness import use_transaction_per_migration
from harness import write_deploy_revisions
from harness import write_revision


@pytest.mark.pgbouncer
@pytest.mark.parametrize("per_migration", [False, True])
def test_eight_parallel_deploys_through_pgbouncer_apply_each_revision_once(
    bounced: Project, per_migration: bool
) -> None:
    """One transaction per run: a transaction-level lock in it. One per
    revision: the lock in a transaction of its own on a second connection,
    which PgBouncer keeps on one server connection for the run.
    """
    if per_migration:
        use_transaction_per_migration(bounced)
    write_deploy_revisions(bounced, "SELECT pg_sleep(1)")
    codes, outputs = parallel_upgrades(bounced)
    assert codes == [0] * 8, "\n".join(outputs)
    assert sum(output.count("Running upgrade") for output in outputs) == 3
    assert_each_deploy_revision_ran_once(bounced)
    assert "you don't own a lock" not in "".join(outputs)


# -- Table locks on PostgreSQL -------------------------------------------------


@pytest.fixture
def app_session(pg: Project) -> Iterator[Connection]:
    """A session of the app's on the project's database."""
    with other_session(pg) as connection:
        yield connection


@pytest.mark.postgresql
@pytest.mark.parametrize("per_migration", [False, True])
def test_a_table_lock_wait_is_bounded_rolled_back_and_retried(
    pg: Project, app_session: Connection, per_migration: bool
) -> None:
    if per_migration:
        use_transaction_per_migration(pg)
    write_revision(pg, "n1", None, 'op.execute("CREATE TABLE note (id integer)")')
    upgrade_in_process(pg, "n1")  # the start state, in this process
    write_revision(pg, "n2", "n1", 'op.execute("CREATE TABLE tag (id integer)")')
    altering = write_revision(
        pg, "n3", "n2", 'op.execute("ALTER TABLE note ADD COLUMN body text")'
    )
    # A report query of the app, still open: ACCESS SHARE on the table.
    app_session.execute(text("SELECT * FROM note")).all()

    started = time.monotonic()
    message = pg.failure("-x", "table_lock_timeout=1", "upgrade", "head")
    assert time.monotonic() - started < 20
    assert message == (
        f"Revision n3 ({altering}, line 10) waited more than 1 s for a lock on"
        " table 'note' (table_lock_timeout = '1' (from -x"
        " table_lock_timeout=...)), once, and was rolled back where the"
        " database allows. Something holds that table: a long transaction or"
        " query of the app, or another session. Let it finish (or end it) and"
        " run again, or raise table_lock_timeout or table_lock_retries."
    )
    # One transaction: n2 went with n3. One per revision: n2 stays.
    kept = "n2" if per_migration else "n1"
    assert columns(pg, "tag") == (["id"] if per_migration else [])
    assert query(pg, "SELECT version_num FROM alembic_version") == [(kept,)]

    retrying = "waited more than 1 s for a lock on table 'note'; running again"
    result = pg.alembic_acting_on(
        *("-x", "table_lock_timeout=1", "-x", "table_lock_retries=3"),
        *("upgrade", "head"),
        log_line=retrying,
        action=app_session.rollback,
    )
    assert "Revision n3 (" in result.stderr
    assert retrying in result.stderr
    # What a rolled-back attempt did is not counted.
    applied = 1 if per_migration else 2
    assert f"Upgraded {applied} revision{'s' if applied > 1 else ''} in" in (
        result.stderr
    )
    assert columns(pg, "note") == ["id", "body"]
    assert query(pg, "SELECT version_num FROM alembic_version") == [("n3",)]
    # The session's own lock_timeout was put back.
    engine = create_engine(pg.server_url)
    with engine.connect() as connection:
        assert connection.execute(text("SHOW lock_timeout")).scalar() == "0"
    engine.dispose()


# -- A host that never answers ---------------------------------------------------


@pytest.fixture
def silent_host() -> Iterator[int]:
    """A port on 127.0.0.1 that accepts TCP connections and never answers,
    like a firewalled or hung database host.
    """
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()


def test_a_host_that_never_answers_fails_within_the_connect_timeout(
    blog: Project, silent_host: int
) -> None:
    """libpq's connect_timeout bounds the whole start-up; PyMySQL's only the
    TCP connect, so a MySQL host that accepts and stays silent is not
    covered (the README says so).
    """
    driver, timeout = "postgresql+psycopg", "2"
    url = f"{driver}://user:secret-pw@127.0.0.1:{silent_host}/app"
    blog.env["BLOGAPP_DATABASE_URI"] = url
    started = time.monotonic()
    message = blog.failure("-x", f"migration_connect_timeout={timeout}", "current")
    assert time.monotonic() - started < 30
    assert message == (
        f"Could not connect to {driver}://user:***@127.0.0.1:{silent_host}/app"
        f" (the database of Flask app 'blogapp'): 127.0.0.1:{silent_host} did not"
        f" answer within {timeout} s (migration_connect_timeout = {timeout!r}"
        " (from -x migration_connect_timeout=...)). Check that the host and port"
        " are right and that the server is up; if it is only slow, raise"
        " migration_connect_timeout (or set connect_timeout in the app's"
        " database URL)."
    )


#: SQL that ends the session holding this database's migration lock, as a
#: DBA, a server timeout or a failover would.
TERMINATE_THE_LOCK_HOLDER = (
    "SELECT pg_terminate_backend(pid) FROM pg_locks"
    " WHERE locktype = 'advisory' AND pid <> pg_backend_pid()"
    " AND database = (SELECT oid FROM pg_database"
    " WHERE datname = current_database())"
)


@pytest.mark.postgresql
@pytest.mark.parametrize("per_migration", [False, True])
def test_a_lock_lost_mid_run_stops_the_run_before_anything_more_is_kept(
    pg: Project, per_migration: bool
) -> None:
    """k1 ends the lock's session: the run stops before k1 is committed,
    with one FAILED line that says what this run kept and what
    alembic_version says, instead of going on without the lock.
    """
    if per_migration:
        use_transaction_per_migration(pg)
    write_revision(pg, "k0", None, 'op.execute("CREATE TABLE before_kill (id int)")')
    write_revision(
        pg,
        "k1",
        "k0",
        f"""
        op.execute("{TERMINATE_THE_LOCK_HOLDER}")
        op.execute("CREATE TABLE after_kill (id integer)")
        """,
    )
    result = pg.alembic("upgrade", "head", ok=False)
    kept = (
        "this run committed <base> -> k0 before that, and alembic_version now says k0"
        if per_migration
        else "nothing this run did was committed, and alembic_version now says"
        " nothing (base)"
    )
    lock = lock_id("alembic_version", None)
    assert result.stdout.strip() == (
        f"FAILED: The migration lock (PostgreSQL advisory lock {lock}) was lost"
        " while revision k0 -> k1 was applied (it was rolled back): its"
        " connection failed (terminating connection due to administrator"
        " command). Another run may be migrating this database now, so this"
        f" run stopped there; {kept}. Let any other run finish, then run again;"
        " if the lock's session was ended by an idle timeout of the server or a"
        " pooler, raise that timeout."
    )
    assert "Traceback" not in result.stderr
    assert "Could not" not in result.stderr
    # k1 was rolled back: it is not reported as finished.
    assert "Finished upgrade k0 -> k1" not in result.stderr
    assert columns(pg, "after_kill") == []
    assert columns(pg, "before_kill") == (["id"] if per_migration else [])


@pytest.mark.postgresql
def test_the_table_lock_bound_outlives_an_autocommit_block(
    pg: Project, app_session: Connection
) -> None:
    """An autocommit block ends the run's transaction, and SET LOCAL with
    it: the transaction Alembic begins after the block is bounded again.
    """
    write_revision(pg, "n1", None, 'op.execute("CREATE TABLE note (id integer)")')
    upgrade_in_process(pg, "n1")  # the start state, in this process
    write_revision(
        pg,
        "n2",
        "n1",
        """
        with op.get_context().autocommit_block():
            op.execute("SELECT 1")
        op.execute("ALTER TABLE note ADD COLUMN body text")
        """,
    )
    app_session.execute(text("SELECT * FROM note")).all()
    # Should the bound be lost, the ALTER waits until this lets go, and
    # the run succeeds: the test fails instead of hanging.
    releasing = threading.Timer(20, app_session.rollback)
    releasing.start()
    started = time.monotonic()
    try:
        message = pg.failure("-x", "table_lock_timeout=1", "upgrade", "head")
    finally:
        releasing.cancel()
    assert time.monotonic() - started < 15
    assert message.startswith("Revision n2 (")
    assert "waited more than 1 s for a lock on table 'note'" in message
