"""Schema tenants behind PgBouncer in transaction pooling mode: each
transaction may run on another server connection, so a tenant's schema must
hold in every transaction (never through a session ``search_path`` that
stays on a server connection for the next client), and a statement outside
any transaction (in an ``autocommit_block()``) is refused unless its tables
are put in the tenant's schema.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from harness import LEDGER_TABLE
from harness import PGBOUNCER_URL_VARIABLE
from harness import POSTGRESQL_URL_VARIABLE
from harness import Project
from harness import query
from harness import use_transaction_per_migration
from harness import write_revision

pytestmark = pytest.mark.pgbouncer

NAMES = [f"t{number}" for number in range(1, 9)]
#: How a revision finds the schema of the tenant it runs for.
OWN_SCHEMA = (
    'schema = op.get_bind().get_execution_options()["schema_translate_map"][None]'
)


@pytest.fixture
def fleet(bounced: Project) -> Project:
    """Eight schema tenants through PgBouncer, with revisions that write
    through raw, unqualified SQL as well as through ``op.*``.
    """
    bounced.set_ini_option("flask_tenants", "tenancy:schemas")
    bounced.set_ini_option("migration_checks", "off")
    bounced.env["BLOG_TENANTS"] = ",".join(NAMES)
    write_revision(
        bounced,
        "p1",
        None,
        f"""
        import sqlalchemy as sa
        {OWN_SCHEMA}
        op.create_table(
            "items", sa.Column("owner", sa.Text), sa.Column("step", sa.Text)
        )
        op.execute("SELECT pg_sleep(0.1)")
        op.execute(f"INSERT INTO items VALUES ('{{schema}}', 'p1')")
        """,
    )
    write_revision(
        bounced,
        "p2",
        "p1",
        f"""
        import sqlalchemy as sa
        {OWN_SCHEMA}
        op.add_column("items", sa.Column("note", sa.Text))
        op.execute("SELECT pg_sleep(0.1)")
        op.execute(f"INSERT INTO items (owner, step) VALUES ('{{schema}}', 'p2')")
        op.bulk_insert(
            sa.table("items", sa.column("owner"), sa.column("step")),
            [{{"owner": schema, "step": "p2-ops"}}],
        )
        """,
    )
    return bounced


def items_by_schema(project: Project) -> dict[str, list[tuple[object, ...]]]:
    return {
        name: query(project, f"SELECT owner, step FROM {name}.items ORDER BY step")
        for name in NAMES
    }


@pytest.mark.parametrize("per_migration", [False, True], ids=["one", "per-revision"])
def test_every_tenant_writes_into_its_own_schema(
    fleet: Project, per_migration: bool
) -> None:
    if per_migration:
        use_transaction_per_migration(fleet)
    result = fleet.alembic("-x", "tenant_jobs=3", "upgrade", "head")
    assert "Tenants: 8 migrated, 0 already there, 0 failed" in result.stderr
    for name, rows in items_by_schema(fleet).items():
        assert rows == [(name, "p1"), (name, "p2"), (name, "p2-ops")], name
    tables = query(
        fleet,
        "SELECT table_schema, table_name FROM information_schema.tables"
        " WHERE table_schema NOT IN ('pg_catalog', 'information_schema')",
    )
    assert sorted(tables) == sorted(
        (name, table)
        for name in NAMES
        for table in ("items", "alembic_version", LEDGER_TABLE)
    )
    assert fleet.alembic("current").stdout.splitlines() == [
        f"{name}: p2 (head)" for name in NAMES
    ]


def test_outside_a_transaction_only_placed_statements_run(fleet: Project) -> None:
    """In an ``autocommit_block()`` there is no transaction to set the
    schema in: ``op.*`` (whose tables the schema translation names) runs,
    raw SQL is refused before it runs.
    """
    write_revision(
        fleet,
        "p3",
        "p2",
        """
        with op.get_context().autocommit_block():
            # (Not postgresql_concurrently: that waits for the deploy
            # lock's open transaction, which waits for the run.)
            op.create_index("ix_items_owner", "items", ["owner"])
        """,
    )
    write_revision(
        fleet,
        "p4",
        "p3",
        """
        with op.get_context().autocommit_block():
            op.execute("INSERT INTO items (owner, step) VALUES ('anyone', 'p4')")
        """,
    )
    fleet.alembic("-x", "tenant_jobs=3", "upgrade", "p3")
    indexes = query(
        fleet, "SELECT schemaname FROM pg_indexes WHERE indexname = 'ix_items_owner'"
    )
    assert sorted(str(row[0]) for row in indexes) == NAMES

    assert fleet.failure("-x", "tenants=t1", "upgrade", "head") == (
        "1 of 1 tenants failed: 't1': The statement \"INSERT INTO items (owner,"
        " step) VALUES ('anyone', 'p4')\" runs in an autocommit_block(), outside"
        " any transaction, where a connection pooler (PgBouncer in transaction"
        " mode) may run it on a server connection whose search_path is not schema"
        " 't1': its unqualified tables could be another tenant's. Write it with"
        " op.* (op.create_index(), op.add_column(), ...: their tables are put in"
        " the tenant's schema), move it out of the autocommit block, or migrate"
        " the tenants over a direct connection to PostgreSQL; it did not run."
        " Each failed tenant's migration was rolled back where the database"
        " allows; the other tenants are migrated as the log says. Fix the cause"
        " and run the same command again: tenants already there are skipped, the"
        " others go on from where they stand."
    )
    assert query(fleet, "SELECT count(*) FROM t1.items WHERE step = 'p4'") == [(0,)]
    assert query(fleet, "SELECT version_num FROM t1.alembic_version") == [("p3",)]


@pytest.fixture
def small_pool(postgresql_url: str) -> Iterator[str]:
    """A PgBouncer of this test's own with a pool of three server
    connections; the URL of the test's database through it.
    """
    if os.geteuid() != 0:
        pytest.skip(".ci/start-pgbouncer needs root (it runs PgBouncer as postgres)")
    environment = {
        **os.environ,
        POSTGRESQL_URL_VARIABLE: postgresql_url,
        "PGBOUNCER_POOL_SIZE": "3",
    }
    started = subprocess.run(
        ["bash", str(Path(__file__).parent.parent / ".ci" / "start-pgbouncer")],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    exported = dict(
        re.findall(r"^export (\w+)='(.*)'$", started.stdout, flags=re.MULTILINE)
    )
    pid_file = re.search(
        r"cat (\S+)\)", exported[f"{PGBOUNCER_URL_VARIABLE[:-4]}_STOP"]
    )
    assert pid_file is not None
    pid = int(Path(pid_file.group(1)).read_text())
    try:
        bouncer = make_url(exported[PGBOUNCER_URL_VARIABLE])
        yield (
            make_url(postgresql_url)
            .set(host=bouncer.host, port=bouncer.port)
            .render_as_string(hide_password=False)
        )
    finally:
        os.kill(pid, signal.SIGTERM)


def test_a_pool_smaller_than_two_connections_per_job_fails_in_bounded_time(
    fleet: Project, small_pool: str
) -> None:
    """Three workers, each holding the migration lock's server connection
    while it waits for its migration's, fill a pool of three: each waits
    no longer than migration_connect_timeout (here 5 s) and the run ends
    with one line saying what to change.
    """
    fleet.env["BLOGAPP_DATABASE_URI"] = small_pool
    fleet.set_ini_option("migration_connect_timeout", "5")
    started = time.monotonic()
    result = fleet.alembic("-x", "tenant_jobs=3", "upgrade", "head", ok=False)
    assert time.monotonic() - started < 30
    assert "Traceback" not in fleet.output(result)
    [line] = result.stdout.splitlines()
    # Which workers give up first (and so how many) is the scheduler's.
    matched = re.fullmatch(
        r"FAILED: ([1-3]) of 8 tenants failed: ('t[1-8]'(?:, 't[1-8]')*): (.*)", line
    )
    assert matched is not None, line
    assert matched.group(2).count("'t") == int(matched.group(1))
    assert matched.group(3) == (
        "No server connection within 5 s (migration_connect_timeout = '5' (from"
        " [alembic] in alembic.ini)). Behind a connection pooler (PgBouncer in"
        " transaction mode) each of the tenant_jobs = 3 workers needs two server"
        " connections at once, the migration lock's and the migration's, so the"
        " pooler's pool for this database and user must hold at least 6"
        " (PgBouncer's default_pool_size, counting the app's own connections):"
        " lower tenant_jobs or raise the pool size. If the server is only slow,"
        " raise migration_connect_timeout. Each failed tenant's migration was"
        " rolled back where the database allows; the other tenants are migrated"
        " as the log says. Fix the cause and run the same command again: tenants"
        " already there are skipped, the others go on from where they stand."
    )
    # As it says: fewer workers fit the pool.
    fleet.alembic("-x", "tenant_jobs=1", "upgrade", "head")
    for name, rows in items_by_schema(fleet).items():
        assert rows == [(name, "p1"), (name, "p2"), (name, "p2-ops")], name


def test_autogenerate_and_check_read_the_tenants_schema(bounced: Project) -> None:
    """Reflection resolves unqualified names through search_path too: behind
    the pooler it reads the tenant's schema, not whatever the server
    connection it lands on points at.
    """
    bounced.set_ini_option("flask_tenants", "tenancy:schemas")
    bounced.env["BLOG_TENANTS"] = "t1,t2,t3"
    bounced.alembic("revision", "--autogenerate", "-m", "models")
    [written] = bounced.revision_files()
    assert "op.create_table('user'" in written.read_text()
    assert "schema=" not in written.read_text()
    bounced.alembic("-x", "tenant_jobs=3", "upgrade", "head")
    assert "No new upgrade operations detected." in bounced.alembic("check").stdout
    tables = query(
        bounced,
        "SELECT table_schema, table_name FROM information_schema.tables"
        " WHERE table_schema NOT IN ('pg_catalog', 'information_schema')",
    )
    assert sorted(tables) == sorted(
        (name, table)
        for name in ("t1", "t2", "t3")
        for table in ("user", "post", "alembic_version", LEDGER_TABLE)
    )
