"""Statements that wait for every older transaction, under the deploy lock.

``CREATE INDEX CONCURRENTLY`` (and ``DROP INDEX``, ``REINDEX`` and
``DETACH PARTITION ... CONCURRENTLY``) wait, after their work, for every
transaction of the database whose snapshot is older than theirs. The lock
connection holds an open transaction for the whole run: should it keep a
snapshot, such a statement waits for the run's own lock forever. Each test
runs the real statement, after another revision of the same run.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time

import pytest
from sqlalchemy import create_engine
from sqlalchemy import text

from alembic_flask_env.runtime.lock.keys import lock_id

from harness import ALEMBIC
from harness import Project
from harness import other_session
from harness import parallel_upgrades
from harness import query
from harness import use_transaction_per_migration
from harness import write_revision
from start_states import StartStates
from start_states import generated_and_upgraded

ITEMS = """
op.execute("CREATE TABLE item (id serial PRIMARY KEY, name text, part int)")
op.execute(
    "INSERT INTO item (name, part)"
    " SELECT 'n' || g, g % 2 FROM generate_series(1, 500) g"
)
"""


def write_table_and_concurrent_index(project: Project) -> None:
    """c1 makes a table with rows; c2 builds an index on it concurrently in
    an autocommit block, as the checks ask and autogenerate writes.
    """
    write_revision(project, "c1", None, ITEMS)
    write_revision(
        project,
        "c2",
        "c1",
        """
        with op.get_context().autocommit_block():
            op.create_index(
                "ix_item_name", "item", ["name"], postgresql_concurrently=True
            )
        """,
    )


def write_concurrent_revisions(project: Project) -> None:
    """c1 and c2 (:func:`write_table_and_concurrent_index`); c3 rebuilds
    the index concurrently, c4 drops it concurrently, each in an autocommit
    block.
    """
    write_table_and_concurrent_index(project)
    write_revision(
        project,
        "c3",
        "c2",
        """
        with op.get_context().autocommit_block():
            op.execute("REINDEX INDEX CONCURRENTLY ix_item_name")
        op.execute("INSERT INTO item (name, part) VALUES ('after', 0)")
        """,
    )
    write_revision(
        project,
        "c4",
        "c3",
        """
        with op.get_context().autocommit_block():
            op.drop_index(
                "ix_item_name", table_name="item", postgresql_concurrently=True
            )
        """,
    )


@pytest.mark.postgresql
@pytest.mark.parametrize("per_migration", [False, True])
def test_concurrent_index_statements_after_another_revision(
    pg: Project, per_migration: bool
) -> None:
    if per_migration:
        use_transaction_per_migration(pg)
    write_concurrent_revisions(pg)
    pg.alembic("-x", "table_lock_timeout=5", "upgrade", "head")
    assert query(pg, "SELECT version_num FROM alembic_version") == [("c4",)]
    assert query(pg, "SELECT count(*) FROM item") == [(501,)]


def assert_the_concurrent_revisions_ran(project: Project) -> None:
    assert query(project, "SELECT version_num FROM alembic_version") == [("c4",)]
    assert query(project, "SELECT count(*) FROM item") == [(501,)]
    assert query(
        project, "SELECT indexname FROM pg_indexes WHERE tablename = 'item'"
    ) == [("item_pkey",)]


@pytest.mark.postgresql
@pytest.mark.parametrize("per_migration", [False, True])
def test_parallel_deploys_with_concurrent_index_statements(
    pg: Project, per_migration: bool
) -> None:
    """Four deploys at once (a variant of test_postgresql's eight, as in
    test_deploy_lock): the winner's concurrent statements finish under its
    lock; the others wait, then find nothing to do.
    """
    if per_migration:
        use_transaction_per_migration(pg)
    write_concurrent_revisions(pg)
    codes, outputs = parallel_upgrades(pg, count=4)
    assert codes == [0] * 4, "\n".join(outputs)
    assert sum(output.count("Running upgrade  -> c1") for output in outputs) == 1
    assert_the_concurrent_revisions_ran(pg)


@pytest.mark.pgbouncer
@pytest.mark.parametrize("per_migration", [False, True])
def test_parallel_deploys_with_concurrent_index_statements_behind_pgbouncer(
    bounced: Project, per_migration: bool
) -> None:
    if per_migration:
        use_transaction_per_migration(bounced)
    write_concurrent_revisions(bounced)
    codes, outputs = parallel_upgrades(bounced, count=4)
    assert codes == [0] * 4, "\n".join(outputs)
    assert sum(output.count("Running upgrade  -> c1") for output in outputs) == 1
    assert_the_concurrent_revisions_ran(bounced)


@pytest.mark.postgresql
def test_schema_tenants_with_concurrent_index_statements(pg: Project) -> None:
    """Each tenant's run takes its lock on the lock connection kept from
    tenant to tenant, and builds its index concurrently under it.
    """
    pg.set_ini_option("flask_tenants", "tenancy:schemas")
    pg.env["BLOG_TENANTS"] = "acme,beta,gamma"
    write_concurrent_revisions(pg)
    pg.alembic("-x", "tenant_jobs=2", "upgrade", "head")
    for schema in ("acme", "beta", "gamma"):
        assert query(pg, f"SELECT version_num FROM {schema}.alembic_version") == [
            ("c4",)
        ]
        assert query(pg, f"SELECT count(*) FROM {schema}.item") == [(501,)]


@pytest.mark.pgbouncer
def test_schema_tenants_with_concurrent_index_builds_behind_pgbouncer(
    bounced: Project,
) -> None:
    """Through PgBouncer in transaction mode (where raw SQL outside a
    transaction is refused for schema tenants, and op.* is placed in the
    tenant's schema): each tenant's concurrent build and drop, after another
    revision, under its lock.
    """
    bounced.set_ini_option("flask_tenants", "tenancy:schemas")
    bounced.env["BLOG_TENANTS"] = "acme,beta,gamma"
    write_table_and_concurrent_index(bounced)
    write_revision(
        bounced,
        "c3",
        "c2",
        """
        with op.get_context().autocommit_block():
            op.drop_index(
                "ix_item_name", table_name="item", postgresql_concurrently=True
            )
            op.create_index(
                "ix_item_part", "item", ["part"], postgresql_concurrently=True
            )
        """,
    )
    bounced.alembic("-x", "tenant_jobs=2", "upgrade", "head")
    for schema in ("acme", "beta", "gamma"):
        assert query(bounced, f"SELECT version_num FROM {schema}.alembic_version") == [
            ("c3",)
        ]
        assert query(
            bounced,
            "SELECT indexname FROM pg_indexes WHERE tablename = 'item'"
            f" AND schemaname = '{schema}' ORDER BY 1",
        ) == [("item_pkey",), ("ix_item_part",)]


@pytest.mark.postgresql
def test_detach_partition_concurrently_after_another_revision(pg: Project) -> None:
    write_revision(
        pg,
        "p1",
        None,
        """
        op.execute(
            "CREATE TABLE measure (day date NOT NULL, value int)"
            " PARTITION BY RANGE (day)"
        )
        op.execute(
            "CREATE TABLE measure_2025 PARTITION OF measure"
            " FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')"
        )
        op.execute("INSERT INTO measure VALUES ('2025-06-01', 1)")
        """,
    )
    write_revision(
        pg,
        "p2",
        "p1",
        """
        with op.get_context().autocommit_block():
            op.execute("ALTER TABLE measure DETACH PARTITION measure_2025 CONCURRENTLY")
        """,
    )
    pg.set_ini_option("migration_checks", "off")
    pg.alembic("upgrade", "head")
    assert query(pg, "SELECT count(*) FROM measure") == [(0,)]
    assert query(pg, "SELECT count(*) FROM measure_2025") == [(1,)]


@pytest.mark.postgresql
def test_the_lock_session_holds_no_snapshot_while_revisions_run(pg: Project) -> None:
    """What a ``CONCURRENTLY`` statement waits for, asked directly: while
    the run works, no other session of the database (the lock's among
    them) is idle in a transaction with a snapshot (``backend_xmin``).
    """
    write_revision(pg, "s1", None, 'op.execute("CREATE TABLE seen (sessions int)")')
    write_revision(
        pg,
        "s2",
        "s1",
        """
        with op.get_context().autocommit_block():
            op.execute(
                "INSERT INTO seen SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                " AND state = 'idle in transaction' AND backend_xmin IS NOT NULL"
            )
        op.execute(
            "INSERT INTO seen SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            " AND backend_xmin IS NOT NULL"
        )
        """,
    )
    pg.alembic("upgrade", "head")
    assert query(pg, "SELECT sessions FROM seen") == [(0,), (0,)]


@pytest.mark.postgresql
@pytest.mark.parametrize("per_migration", [False, True])
def test_a_run_that_waits_for_its_own_lock_session_fails_within_the_bound(
    pg: Project, per_migration: bool
) -> None:
    """A revision that asks for the deploy lock's own advisory key outside
    the run's transaction waits for the lock's session, which waits for the
    run: cancelled within table_lock_timeout, in one FAILED line naming the
    revision and the session, instead of hanging.
    """
    if per_migration:
        use_transaction_per_migration(pg)
    key = lock_id("alembic_version", None)
    write_revision(pg, "w1", None, 'op.execute("CREATE TABLE kept (id int)")')
    write_revision(
        pg,
        "w2",
        "w1",
        f"""
        with op.get_context().autocommit_block():
            op.execute("SELECT pg_advisory_lock({key})")
        """,
    )
    pg.set_ini_option("migration_checks", "off")
    started = time.monotonic()
    result = pg.alembic("-x", "table_lock_timeout=2", "upgrade", "head", ok=False)
    assert time.monotonic() - started < 60
    [failed] = [line for line in result.stdout.splitlines() if "FAILED" in line]
    assert "Revision w2 (" in failed
    assert re.search(
        r"waited \d+ s for this run's own migration lock session \(server pid \d+,",
        failed,
    )
    assert (
        f"PostgreSQL advisory lock {key}) in: select pg_advisory_lock({key})" in failed
    )
    assert "was cancelled within table_lock_timeout = 2 s" in failed
    assert "Traceback" not in result.stderr
    # w1 was committed before the autocommit block; the lock is free again.
    assert query(pg, "SELECT version_num FROM alembic_version") == [("w1",)]
    with other_session(pg) as session:
        assert session.execute(text(f"SELECT pg_try_advisory_lock({key})")).scalar()


INDEXED_MODEL = "name = db.Column(db.String(50), nullable=False, index=True)"


@pytest.mark.postgresql
def test_an_interrupted_concurrent_build_is_rebuilt_by_the_next_run(
    pg: Project, start_states: StartStates
) -> None:
    """The form autogenerate writes, killed with ``kill -9`` mid-build (its
    server session ended too, as a server's client check or a DBA would):
    the INVALID index it left behind does not stop the next run, which
    builds the index again.
    """
    generated_and_upgraded(pg, start_states)
    models = pg.root / "blogapp" / "models.py"
    models.write_text(
        models.read_text().replace(
            "name = db.Column(db.String(50), nullable=False)", INDEXED_MODEL
        )
    )
    pg.alembic("revision", "--autogenerate", "-m", "index")
    assert ALEMBIC is not None
    with other_session(pg) as reader:
        # A snapshot older than the build: CREATE INDEX CONCURRENTLY waits
        # for it after building, with the index still INVALID.
        reader.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
        reader.execute(text('SELECT count(*) FROM "user"')).scalar()
        run = subprocess.Popen(
            [ALEMBIC, "upgrade", "head"],
            cwd=pg.root,
            env=pg.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            # Waiting for the reader's snapshot: built, not yet valid.
            builder = wait_for_session(pg, "CREATE INDEX CONCURRENTLY", "virtualxid")
            os.kill(run.pid, signal.SIGKILL)
            run.wait(timeout=30)
            with other_session(pg) as dba:
                dba.execute(text(f"SELECT pg_terminate_backend({builder})"))
        finally:
            run.kill()
            run.wait()
        reader.rollback()
    assert query(
        pg,
        "SELECT indisvalid FROM pg_index WHERE indexrelid = 'ix_user_name'::regclass",
    ) == [(False,)]
    pg.alembic("upgrade", "head")
    assert query(
        pg,
        "SELECT indisvalid FROM pg_index WHERE indexrelid = 'ix_user_name'::regclass",
    ) == [(True,)]
    pg.alembic("downgrade", "-1")
    assert query(pg, "SELECT to_regclass('ix_user_name') IS NULL") == [(True,)]


def wait_for_session(project: Project, statement: str, wait_event: str) -> int:
    """The pid of the session running ``statement``, once it waits for
    ``wait_event``.
    """
    engine = create_engine(project.server_url)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with engine.connect() as connection:
                pid = connection.execute(
                    text(
                        "SELECT pid FROM pg_stat_activity WHERE query LIKE :pattern"
                        " AND wait_event = :event AND pid <> pg_backend_pid()"
                    ),
                    {"pattern": f"{statement}%", "event": wait_event},
                ).scalar()
            if pid is not None:
                return int(pid)
            time.sleep(0.1)
    finally:
        engine.dispose()
    pytest.fail(f"no session waited for {wait_event} in {statement!r} within 60 s")
