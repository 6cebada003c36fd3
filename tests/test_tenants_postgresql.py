"""A schema per tenant on PostgreSQL: every ``op.*`` and the raw SQL of
``op.execute()`` land in the tenant's schema, never in ``public``; a run
killed halfway converges when run again; autogenerate writes no schema
names; a tenants callable may read the app's own control table.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy import text
from sqlalchemy.engine import make_url

from harness import ALEMBIC
from harness import LEDGER_TABLE
from harness import Project
from harness import package_command
from harness import parallel_upgrades
from harness import query
from harness import upgraded_in_process
from harness import write_revision

pytestmark = pytest.mark.postgresql

NAMES = ["acme", "beta", "gamma", "delta", "epsilon", "zeta"]


@pytest.fixture
def schemas(pg: Project) -> Project:
    pg.set_ini_option("flask_tenants", "tenancy:schemas")
    pg.env["BLOG_TENANTS"] = ",".join(NAMES)
    write_revision(
        pg,
        "r1",
        None,
        """
        op.create_table("runs", sa.Column("revision", sa.String(8)))
        op.execute("INSERT INTO runs VALUES ('r1')")
        """,
    )
    write_revision(
        pg,
        "r2",
        "r1",
        """
        op.add_column("runs", sa.Column("note", sa.Text()))
        op.create_index("ix_runs_note", "runs", ["note"])
        op.execute("SELECT pg_sleep(0.3)")
        op.execute("INSERT INTO runs (revision) VALUES ('r2')")
        """,
    )
    write_revision(pg, "r3", "r2", "op.execute(\"INSERT INTO runs VALUES ('r3')\")")
    for name in ("r1", "r2"):
        path = pg.root / "migrations" / "versions" / f"{name}.py"
        path.write_text("import sqlalchemy as sa\n" + path.read_text())
    pg.set_ini_option("migration_checks", "off")
    return pg


def run_sql(project: Project, *statements: str) -> None:
    engine = create_engine(project.server_url)
    try:
        with engine.begin() as connection:
            for statement in statements:
                connection.execute(text(statement))
    finally:
        engine.dispose()


def tenant_at(project: Project, tenant: str, target: str) -> None:
    """The start state ``alembic -x tenants=TENANT upgrade TARGET`` leaves,
    made in this process (it is not the run under test): the tenant's
    schema, the revisions' tables and rows, alembic_version and an empty
    ledger table, all in that schema.
    """
    run_sql(project, f'CREATE SCHEMA "{tenant}"')
    direct = project.server_url
    # (libpq's options: every session of the build on the tenant's schema.)
    project.server_url = (
        make_url(direct)
        .update_query_dict({"options": f"-csearch_path={tenant}"})
        .render_as_string(hide_password=False)
    )
    try:
        upgraded_in_process(project, target)
    finally:
        project.server_url = direct


def tables_by_schema(project: Project) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for schema, table in query(
        project,
        "SELECT table_schema, table_name FROM information_schema.tables WHERE"
        " table_schema NOT IN ('pg_catalog', 'information_schema')",
    ):
        found.setdefault(str(schema), set()).add(str(table))
    return found


def runs(project: Project, schema: str) -> list[str]:
    rows = query(project, f"SELECT revision FROM {schema}.runs ORDER BY revision")
    return [str(row[0]) for row in rows]


def test_every_op_lands_in_the_tenants_schema(schemas: Project) -> None:
    result = schemas.alembic("-x", "tenant_jobs=3", "upgrade", "head")
    assert "Created schema 'acme' for its tenant." in result.stderr
    assert "Tenants: 6 migrated, 0 already there, 0 failed, 0 skipped" in (
        result.stderr
    )
    found = tables_by_schema(schemas)
    assert "public" not in found
    for name in NAMES:
        assert found[name] == {"runs", "alembic_version", LEDGER_TABLE}
        assert runs(schemas, name) == ["r1", "r2", "r3"]
    indexes = query(
        schemas, "SELECT schemaname FROM pg_indexes WHERE indexname = 'ix_runs_note'"
    )
    assert sorted(str(row[0]) for row in indexes) == sorted(NAMES)

    assert schemas.alembic("current").stdout.splitlines() == [
        f"{name}: r3 (head)" for name in NAMES
    ]
    schemas.alembic("-x", "tenants=beta", "downgrade", "r2")
    assert query(schemas, "SELECT version_num FROM beta.alembic_version") == [("r2",)]
    assert query(schemas, "SELECT version_num FROM acme.alembic_version") == [("r3",)]


def test_offline_sql_has_a_section_per_tenant(schemas: Project) -> None:
    sql = schemas.alembic("-x", "tenants=acme,beta", "upgrade", "head", "--sql").stdout
    acme, beta = sql.split("-- Tenant 'beta': schema 'beta'")
    assert "-- Tenant 'acme': schema 'acme'" in acme
    assert 'CREATE SCHEMA IF NOT EXISTS "acme";\n\nSET search_path TO "acme";' in acme
    assert 'SET search_path TO "beta";' in beta
    assert beta.count("CREATE TABLE runs") == 1
    assert "acme." not in sql and "public." not in sql
    assert tables_by_schema(schemas) == {}


def test_autogenerate_writes_no_schema_names(pg: Project) -> None:
    pg.set_ini_option("flask_tenants", "tenancy:schemas")
    pg.env["BLOG_TENANTS"] = "acme,beta"
    output = pg.output(pg.alembic("revision", "--autogenerate", "-m", "models"))
    assert "compared the models with tenant 'acme' only (of 2)." in output
    [written] = pg.revision_files()
    source = written.read_text()
    assert "op.create_table('user'" in source
    assert "schema=" not in source
    assert "alembic_version" not in source and LEDGER_TABLE not in source
    pg.alembic("upgrade", "head")
    assert tables_by_schema(pg)["beta"] == {
        "user", "post", "alembic_version", LEDGER_TABLE
    }  # fmt: skip
    assert "No new upgrade operations detected." in pg.alembic("check").stdout
    run_sql(pg, "DROP TABLE beta.post")
    assert pg.failure("check").startswith(
        "The models differ from 1 of 2 tenants: 'beta'."
    )


def test_a_failing_tenant_is_rolled_back(schemas: Project) -> None:
    tenant_at(schemas, "gamma", "r1")
    run_sql(schemas, "CREATE INDEX ix_runs_note ON gamma.runs (revision)")
    result = schemas.alembic(
        "-x", "tenant_failures=continue", "upgrade", "head", ok=False
    )
    assert (
        "1 of 6 tenants failed: 'gamma': relation \"ix_runs_note\" already exists"
        in (result.stdout)
    )
    # PostgreSQL rolled gamma's run back: its version, rows and columns.
    assert query(schemas, "SELECT version_num FROM gamma.alembic_version") == [("r1",)]
    assert runs(schemas, "gamma") == ["r1"]
    assert all(
        runs(schemas, name) == ["r1", "r2", "r3"] for name in NAMES if name != "gamma"
    )


def test_the_tenants_may_come_from_the_apps_control_table(pg: Project) -> None:
    run_sql(
        pg,
        "CREATE TABLE tenant (id int, schema_name text)",
        "INSERT INTO tenant VALUES (1, 'north'), (2, 'south')",
    )
    pg.set_ini_option("flask_tenants", "tenancy:from_control_table")
    write_revision(pg, "c1", None, 'op.execute("CREATE TABLE c (id int)")')
    pg.alembic("upgrade", "head")
    found = tables_by_schema(pg)
    assert found["public"] == {"tenant"}
    assert found["north"] == found["south"] == {"c", "alembic_version", LEDGER_TABLE}


def test_a_run_killed_halfway_converges_when_run_again(schemas: Project) -> None:
    """kill -9 of the whole run (a deploy pod evicted) while tenants are
    migrating: a re-run brings every tenant to head with each revision
    applied exactly once.
    """
    assert ALEMBIC is not None
    process = subprocess.Popen(
        [ALEMBIC, "-x", "tenant_jobs=2", "upgrade", "head"],
        cwd=schemas.root,
        env=schemas.env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        start_new_session=True,  # its workers too, as a pod's end kills all
    )
    assert process.stderr is not None
    with process:
        for line in process.stderr:
            if "[2/6] " in line:
                os.killpg(process.pid, signal.SIGKILL)
                break
        process.wait()
    assert process.returncode == -signal.SIGKILL
    at_head = [
        name
        for name in NAMES
        if "alembic_version" in tables_by_schema(schemas).get(name, set())
        and query(schemas, f"SELECT version_num FROM {name}.alembic_version")
        == [("r3",)]
    ]
    assert 2 <= len(at_head) < len(NAMES), "the kill came too late to prove anything"

    again = schemas.alembic("upgrade", "head").stderr
    assert f"{len(at_head)} already there" in again
    for name in NAMES:
        assert runs(schemas, name) == ["r1", "r2", "r3"]


def test_overlapping_runs_apply_each_revision_once(schemas: Project) -> None:
    """Two deploys (or two shards that overlap) at once: each tenant's own
    lock lets one run migrate it and the other find it at head.
    """
    codes, outputs = parallel_upgrades(schemas, "-x", "tenant_jobs=2", count=3)
    assert codes == [0, 0, 0], "\n".join(outputs)
    for name in NAMES:
        assert runs(schemas, name) == ["r1", "r2", "r3"]


def test_each_tenant_is_checked_before_it_runs(schemas: Project) -> None:
    schemas.set_ini_option("migration_checks", "error")
    tenant_at(schemas, "acme", "r1")
    result = schemas.alembic("-x", "tenants=acme,beta", "upgrade", "head", ok=False)
    # acme has rows in runs already: r2's index would block its writes.
    assert "1 of 2 tenants failed: 'acme': 1 statement would block or break" in (
        result.stdout
    )
    assert "Tenant 'acme': 1 statement would block" in result.stderr
    assert "require-concurrent-index-creation" in result.stderr
    assert runs(schemas, "acme") == ["r1"]
    assert runs(schemas, "beta") == ["r1", "r2", "r3"]  # created in the run


def test_a_database_per_tenant_on_the_server(
    pg: Project, postgresql_databases: Callable[[], str]
) -> None:
    tenants = {"north": postgresql_databases(), "south": postgresql_databases()}
    pg.set_ini_option("flask_tenants", "tenancy:urls")
    pg.env["BLOG_TENANT_URLS"] = json.dumps(tenants)
    write_revision(pg, "d1", None, 'op.execute("CREATE TABLE d (id int)")')
    result = pg.alembic("-x", "tenant_jobs=2", "upgrade", "head")
    assert "Tenants: 2 migrated" in result.stderr
    for url in tenants.values():
        password = make_url(url).password
        assert password and password not in result.stderr
    assert pg.alembic("current").stdout.splitlines() == [
        "north: d1 (head)",
        "south: d1 (head)",
    ]
    assert tables_by_schema(pg) == {}  # the app's own database is left alone


def test_the_ledger_of_each_schema(schemas: Project) -> None:
    schemas.alembic("-x", "tenants=acme", "upgrade", "head")
    code, output = package_command(schemas, "ledger", "--format", "json")
    assert code == 0, output
    by_tenant = json.loads(output)
    assert list(by_tenant) == NAMES
    [run] = by_tenant["acme"]
    assert [step["revision"] for step in run["steps"]] == ["r1", "r2", "r3"]
    assert by_tenant["beta"] == []


def test_stop_canary_and_shards_on_schemas(schemas: Project) -> None:
    tenant_at(schemas, "gamma", "r1")
    run_sql(schemas, "CREATE INDEX ix_runs_note ON gamma.runs (revision)")

    # Stop: no tenant starts after gamma fails.
    result = schemas.alembic("-x", "tenant_jobs=1", "upgrade", "head", ok=False)
    assert "1 of 6 tenants failed: 'gamma'" in result.stdout
    assert "Tenants: 2 migrated, 0 already there, 1 failed, 3 skipped" in (
        result.stderr
    )
    assert {"delta", "epsilon", "zeta"}.isdisjoint(tables_by_schema(schemas))

    # A failing canary: the tenants after it are not started either.
    result = schemas.alembic(
        "-x", "tenants=gamma,delta", "-x", "tenant_canary=1",
        "-x", "tenant_failures=continue", "upgrade", "head", ok=False,
    )  # fmt: skip
    assert "Canary tenant 'gamma' failed" in result.stderr
    assert "delta" not in tables_by_schema(schemas)

    # Fixed, two shards bring every tenant to head, each tenant in one.
    run_sql(schemas, "DROP INDEX gamma.ix_runs_note")
    shares = []
    for index in range(2):
        report = schemas.root / f"shard{index}.json"
        schemas.alembic(
            "-x", f"tenant_shard={index}/2", "-x", f"tenant_report={report}",
            "upgrade", "head",
        )  # fmt: skip
        shares.append({entry["tenant"] for entry in json.loads(report.read_text())})
    assert shares[0] | shares[1] == set(NAMES)
    assert not shares[0] & shares[1]
    assert all(runs(schemas, name) == ["r1", "r2", "r3"] for name in NAMES)


def test_the_apps_own_engine_keeps_its_schema(pg: Project) -> None:
    """The tenants' connections have a pool of their own: the app's engine
    (used by a revision's data step, or by the app itself) never hands out a
    connection pointed at a tenant's schema.
    """
    pg.set_ini_option("flask_tenants", "tenancy:schemas")
    pg.env["BLOG_TENANTS"] = "acme,beta,gamma"
    write_revision(
        pg,
        "a1",
        None,
        """
        from blogapp.extensions import db
        from sqlalchemy import text

        op.execute("CREATE TABLE seen (app_schema text)")
        with db.engine.connect() as app_connection:
            seen = app_connection.execute(text("SELECT current_schema()")).scalar()
        op.execute(f"INSERT INTO seen VALUES ('{seen}')")
        """,
    )
    pg.alembic("-x", "tenant_jobs=1", "upgrade", "head")
    for name in ("acme", "beta", "gamma"):
        assert query(pg, f"SELECT app_schema FROM {name}.seen") == [("public",)]


def test_raw_sql_outside_a_transaction_keeps_the_schema_on_a_direct_connection(
    schemas: Project,
) -> None:
    """Directly on the server (no pooler) the session's search_path holds,
    so raw SQL in an autocommit block lands in the tenant's schema too.
    """
    write_revision(
        schemas,
        "r4",
        "r3",
        """
        with op.get_context().autocommit_block():
            op.execute("INSERT INTO runs (revision) VALUES ('r4')")
        """,
    )
    schemas.alembic("-x", "tenants=acme,beta", "upgrade", "head")
    assert runs(schemas, "acme") == runs(schemas, "beta") == ["r1", "r2", "r3", "r4"]
    assert "public" not in tables_by_schema(schemas)


def ledger_steps(project: Project, schema: str) -> list[tuple[object, ...]]:
    return query(
        project,
        f"SELECT revision, from_revision, outcome FROM {schema}.{LEDGER_TABLE}"
        " ORDER BY id",
    )


def test_each_tenants_ledger_rows_commit_with_their_steps(schemas: Project) -> None:
    """A step's ledger row is written with its transaction's commit (once
    per tenant, not three statements per step): the commit an autocommit
    block forces keeps the rows of the steps before it, a failure after it
    records the rest as rolled back and the failed step, and each tenant's
    report says where it stands.
    """
    write_revision(
        schemas,
        "r4",
        "r3",
        """
        with op.get_context().autocommit_block():
            op.execute("INSERT INTO runs (revision) VALUES ('r4')")
        """,
    )
    write_revision(schemas, "r5", "r4", 'op.execute("nonsense")')
    result = schemas.alembic(
        "-x", "tenants=acme,beta", "-x", "tenant_jobs=2",
        "-x", "tenant_report=report.json", "upgrade", "head", ok=False,
    )  # fmt: skip
    assert "2 of 2 tenants failed" in result.stdout
    for name in ("acme", "beta"):
        assert query(schemas, f"SELECT version_num FROM {name}.alembic_version") == [
            ("r3",)
        ]
        assert ledger_steps(schemas, name) == [
            ("r1", None, "applied"),
            ("r2", "r1", "applied"),
            ("r3", "r2", "applied"),
            ("r4", "r3", "rolled back"),
            ("r5", "r4", "failed"),
        ]
    report = json.loads((schemas.root / "report.json").read_text())
    assert {(entry["status"], entry["from"], entry["to"]) for entry in report} == {
        ("failed", "", "r3")
    }

    write_revision(
        schemas, "r5", "r4", "op.execute(\"INSERT INTO runs VALUES ('r5')\")"
    )
    schemas.alembic(
        "-x", "tenants=acme,beta", "-x", "tenant_report=report.json",
        "upgrade", "head",
    )  # fmt: skip
    for name in ("acme", "beta"):
        assert ledger_steps(schemas, name)[5:] == [
            ("r4", "r3", "applied"),
            ("r5", "r4", "applied"),
        ]
    report = json.loads((schemas.root / "report.json").read_text())
    assert {(entry["status"], entry["from"], entry["to"]) for entry in report} == {
        ("migrated", "r3", "r5")
    }


def test_a_lock_session_ended_during_a_fast_tenant_run_stops_it(
    schemas: Project,
) -> None:
    """A run of fast revisions in one transaction asks the server about its
    lock before it commits, and between revisions only when the server has
    said something on the lock's connection: a lock session ended in the
    middle (here by the revision itself, which waits until it is gone) is
    told so at once, and the next check stops the run there, nothing of it
    committed; the next run applies every revision once.
    """
    write_revision(
        schemas,
        "r4",
        "r3",
        """
        op.execute(
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_locks"
            " WHERE locktype = 'advisory' AND granted"
            " AND pid <> pg_backend_pid() AND database = ("
            "SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        op.execute("INSERT INTO runs (revision) VALUES ('r4')")
        """,
    )
    write_revision(
        schemas, "r5", "r4", "op.execute(\"INSERT INTO runs VALUES ('r5')\")"
    )
    result = schemas.alembic("-x", "tenants=acme", "upgrade", "head", ok=False)
    [line] = [x for x in result.stdout.splitlines() if x.startswith("FAILED:")]
    assert "was lost while revision r3 -> r4 was applied" in result.stderr, (
        result.stderr
    )
    assert line.startswith("FAILED: 1 of 1 tenants failed: 'acme'")
    assert not query(
        schemas,
        "SELECT 1 FROM pg_tables WHERE schemaname = 'acme' AND tablename = 'runs'",
    )
    write_revision(
        schemas, "r4", "r3", "op.execute(\"INSERT INTO runs VALUES ('r4')\")"
    )
    schemas.alembic("-x", "tenants=acme", "upgrade", "head")
    assert runs(schemas, "acme") == ["r1", "r2", "r3", "r4", "r5"]


def _children(pid: int) -> list[int]:
    found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in found]


def _running(pid: int) -> bool:
    """Alive and not a zombie (an orphan the container's init never reaps)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_the_workers_end_with_a_run_killed_alone(schemas: Project) -> None:
    """kill -9 of the alembic process only (an OOM kill, a supervisor that
    kills the main pid): its workers end at once, rolling back the tenant
    each was migrating, and the next run brings every tenant to head.
    """
    write_revision(
        schemas,
        "r4",
        "r3",
        """
        op.execute("SELECT pg_sleep(4)")
        op.execute("INSERT INTO runs (revision) VALUES ('r4')")
        """,
    )
    for name in NAMES:
        tenant_at(schemas, name, "r3")
    assert ALEMBIC is not None
    process = subprocess.Popen(
        [ALEMBIC, "-x", "tenant_jobs=2", "upgrade", "head"],
        cwd=schemas.root,
        env=schemas.env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    assert process.stderr is not None
    with process:
        started = 0
        for line in process.stderr:
            started += "Running upgrade r3 -> r4" in line
            if started == 2:
                break
        workers = _children(process.pid)
        assert len(workers) == 2
        process.kill()
        process.wait()
    killed = time.monotonic()
    while any(map(_running, workers)) and time.monotonic() - killed < 5:
        time.sleep(0.05)
    assert not any(map(_running, workers)), "the workers outlived their run"
    time.sleep(max(0.0, killed + 5 - time.monotonic()))  # past their pg_sleep
    assert query(schemas, "SELECT count(*) FROM acme.runs WHERE revision = 'r4'") == [
        (0,)
    ]
    assert all("r4" not in runs(schemas, name) for name in NAMES)

    schemas.alembic("-x", "tenant_jobs=3", "upgrade", "head")
    for name in NAMES:
        assert runs(schemas, name) == ["r1", "r2", "r3", "r4"]
        # The killed run's rows went with its transactions: one applied
        # row for r4 (the start state, made in process, has none).
        assert ledger_steps(schemas, name) == [("r4", "r3", "applied")]
