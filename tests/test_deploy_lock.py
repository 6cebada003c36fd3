"""The deploy lock under what production does: revisions that commit in
an ``autocommit_block()``, app engines at every isolation level, servers
that end idle or killed sessions, a pooler smaller than the number of
deploys, several apps on one MySQL server, a lock connection that never
answers. Each case starts real parallel ``alembic`` processes.
"""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from alembic_flask_env.runtime.lock.keys import mysql_lock_name

from harness import ALEMBIC
from harness import Project
from harness import assert_each_deploy_revision_ran_once
from harness import hold_the_migration_lock
from harness import other_session
from harness import parallel_commands
from harness import parallel_upgrades
from harness import query
from harness import upgrade_in_process
from harness import use_transaction_per_migration
from harness import write_deploy_revisions
from harness import write_revision

#: How many deploys race in each variant of the eight-deploy cases of
#: test_postgresql.py, test_mariadb.py and test_production.py: a winner and
#: three waiters show the variant's waiting path as well as eight (each
#: process costs a second of CPU, more under coverage, on a 2-core CI
#: machine), and fewer processes on a loaded machine keep the races' timing
#: inside the pauses below.
VARIANT_DEPLOYS = 4
#: Through PgBouncer, one more deploy than its pool has server connections
#: (5, .ci/start-pgbouncer), so that a waiter holding one would starve the
#: winner.
BOUNCED_DEPLOYS = 6

#: The pause of each server's SQL, to widen the race window.
PAUSE = {"postgresql": "SELECT pg_sleep({})", "mariadb": "SELECT SLEEP({})"}


def write_autocommit_revisions(project: Project, pause: str) -> None:
    """d1 makes the log; d2 logs itself inside ``autocommit_block()`` (as
    ``CREATE INDEX CONCURRENTLY`` must run), which commits the run's
    transaction before and after it; d3 logs itself.
    """
    write_revision(
        project,
        "d1",
        None,
        """
        op.execute("CREATE TABLE deploy_log (revision varchar(10))")
        op.execute("INSERT INTO deploy_log VALUES ('d1')")
        """,
    )
    write_revision(
        project,
        "d2",
        "d1",
        f"""
        with op.get_context().autocommit_block():
            op.execute("INSERT INTO deploy_log VALUES ('d2')")
            op.execute("{pause}")
        """,
    )
    write_revision(
        project, "d3", "d2", "op.execute(\"INSERT INTO deploy_log VALUES ('d3')\")"
    )


def assert_every_deploy_succeeded_once(
    project: Project, codes: list[int], outputs: list[str]
) -> None:
    assert codes == [0] * len(codes), "\n".join(outputs)
    assert sum(output.count("Running upgrade") for output in outputs) == 3
    assert_each_deploy_revision_ran_once(project)


@pytest.mark.postgresql
@pytest.mark.parametrize("per_migration", [False, True])
def test_an_autocommit_block_does_not_end_the_lock(
    pg: Project, per_migration: bool
) -> None:
    if per_migration:
        use_transaction_per_migration(pg)
    write_autocommit_revisions(pg, PAUSE["postgresql"].format(0.5))
    codes, outputs = parallel_upgrades(pg, count=VARIANT_DEPLOYS)
    assert_every_deploy_succeeded_once(pg, codes, outputs)


@pytest.mark.pgbouncer
@pytest.mark.parametrize("per_migration", [False, True])
def test_an_autocommit_block_does_not_end_the_lock_behind_pgbouncer(
    bounced: Project, per_migration: bool
) -> None:
    if per_migration:
        use_transaction_per_migration(bounced)
    write_autocommit_revisions(bounced, PAUSE["postgresql"].format(0.5))
    codes, outputs = parallel_upgrades(bounced, count=BOUNCED_DEPLOYS)
    assert_every_deploy_succeeded_once(bounced, codes, outputs)


@pytest.mark.mariadb
def test_an_autocommit_block_does_not_end_the_lock_on_mariadb(
    maria: Project,
) -> None:
    write_autocommit_revisions(maria, PAUSE["mariadb"].format(1))
    codes, outputs = parallel_upgrades(maria, count=VARIANT_DEPLOYS)
    assert_every_deploy_succeeded_once(maria, codes, outputs)


@pytest.mark.postgresql
@pytest.mark.parametrize(
    "level", ["READ COMMITTED", "REPEATABLE READ", "SERIALIZABLE", "AUTOCOMMIT"]
)
def test_every_isolation_level_of_the_app_engine(pg: Project, level: str) -> None:
    """The migration's snapshot is taken once the lock is held, so a run
    that waited reads the alembic_version the winner committed.
    """
    pg.env["BLOGAPP_ISOLATION_LEVEL"] = level
    write_deploy_revisions(pg, PAUSE["postgresql"].format(0.5))
    codes, outputs = parallel_upgrades(pg, count=VARIANT_DEPLOYS)
    assert_every_deploy_succeeded_once(pg, codes, outputs)


@pytest.mark.mariadb
@pytest.mark.parametrize("level", ["READ COMMITTED", "SERIALIZABLE", "AUTOCOMMIT"])
def test_every_isolation_level_of_the_app_engine_on_mariadb(
    maria: Project, level: str
) -> None:
    """(MariaDB's default, REPEATABLE READ, is every other MariaDB test's.)"""
    maria.env["BLOGAPP_ISOLATION_LEVEL"] = level
    write_deploy_revisions(maria, PAUSE["mariadb"].format(1))
    codes, outputs = parallel_upgrades(maria, count=VARIANT_DEPLOYS)
    assert_every_deploy_succeeded_once(maria, codes, outputs)


def write_slow_revisions(project: Project, pause: str) -> None:
    """Three revisions that each take ``pause``: longer in all than the
    idle timeouts the tests set, so an unattended lock session would end.
    """
    write_revision(
        project,
        "d1",
        None,
        f"""
        op.execute("CREATE TABLE deploy_log (revision varchar(10))")
        op.execute("{pause}")
        op.execute("INSERT INTO deploy_log VALUES ('d1')")
        """,
    )
    for revision, down in (("d2", "d1"), ("d3", "d2")):
        write_revision(
            project,
            revision,
            down,
            f"""
            op.execute("{pause}")
            op.execute("INSERT INTO deploy_log VALUES ('{revision}')")
            """,
        )


@pytest.mark.mariadb
def test_a_short_wait_timeout_does_not_end_the_lock(maria: Project) -> None:
    """Managed servers set low ``wait_timeout`` values; the lock's session
    is idle while the migration works, and is kept alive.
    """
    maria.env["BLOGAPP_CONNECT_ARGS"] = json.dumps(
        {"init_command": "SET SESSION wait_timeout = 3"}
    )
    write_slow_revisions(maria, PAUSE["mariadb"].format(2))
    codes, outputs = parallel_upgrades(maria, count=VARIANT_DEPLOYS)
    assert_every_deploy_succeeded_once(maria, codes, outputs)


@pytest.mark.postgresql
@pytest.mark.parametrize("per_migration", [False, True])
def test_an_idle_in_transaction_timeout_does_not_end_the_lock(
    pg: Project, per_migration: bool
) -> None:
    if per_migration:
        use_transaction_per_migration(pg)
    pg.env["BLOGAPP_CONNECT_ARGS"] = json.dumps(
        {"options": "-c idle_in_transaction_session_timeout=2000"}
    )
    write_slow_revisions(pg, PAUSE["postgresql"].format(1.5))
    codes, outputs = parallel_upgrades(pg, count=VARIANT_DEPLOYS)
    assert_every_deploy_succeeded_once(pg, codes, outputs)


def lock_name_of(project: Project) -> str:
    database = make_url(project.server_url).database
    assert database
    return mysql_lock_name(database, "alembic_version", None)


@pytest.mark.mariadb
def test_killing_the_lock_session_while_others_wait_applies_nothing_twice(
    maria: Project,
) -> None:
    """The holder's lock session is killed during d2 while three runs wait:
    the holder stops at the end of d2 (rolling it back), one of the others
    takes the lock and finishes; no revision's data is there twice.
    """
    write_revision(
        maria, "d1", None, 'op.execute("CREATE TABLE deploy_log (revision text)")'
    )
    write_revision(
        maria,
        "d2",
        "d1",
        """
        op.execute("INSERT INTO deploy_log VALUES ('d2')")
        op.execute("SELECT SLEEP(3)")
        """,
    )
    write_revision(
        maria, "d3", "d2", "op.execute(\"INSERT INTO deploy_log VALUES ('d3')\")"
    )
    name = lock_name_of(maria)
    killed: list[int] = []

    def kill_the_holder_during_d2() -> None:
        with other_session(maria) as session:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                session.commit()
                holder = session.execute(
                    text(
                        "SELECT IS_USED_LOCK(:name) FROM information_schema.tables"
                        " WHERE table_schema = DATABASE()"
                        " AND table_name = 'deploy_log'"
                    ),
                    {"name": name},
                ).scalar()
                if holder:
                    time.sleep(1)  # inside d2's SLEEP(3)
                    session.execute(text(f"KILL {int(holder)}"))
                    killed.append(int(holder))
                    return
                time.sleep(0.05)

    killer = threading.Thread(target=kill_the_holder_during_d2)
    killer.start()
    codes, outputs = parallel_upgrades(maria, count=VARIANT_DEPLOYS)
    killer.join()
    assert killed, "the holder was never killed: the test proves nothing"
    failed = [output for code, output in zip(codes, outputs, strict=True) if code]
    assert len(failed) == 1, "\n".join(outputs)
    [line] = [line for line in failed[0].splitlines() if line.startswith("FAILED")]
    assert "was lost while revision d1 -> d2 was applied" in line
    assert "alembic_version now says d1" in line
    assert_each_deploy_revision_ran_once_from(maria, ["d2", "d3"])


def assert_each_deploy_revision_ran_once_from(
    project: Project, revisions: list[str]
) -> None:
    rows = query(project, "SELECT revision FROM deploy_log ORDER BY revision")
    assert rows == [(revision,) for revision in revisions]


@pytest.mark.postgresql
def test_terminating_the_lock_session_while_others_wait_applies_nothing_twice(
    pg: Project,
) -> None:
    use_transaction_per_migration(pg)
    write_revision(
        pg, "d1", None, 'op.execute("CREATE TABLE deploy_log (revision text)")'
    )
    write_revision(
        pg,
        "d2",
        "d1",
        """
        op.execute("INSERT INTO deploy_log VALUES ('d2')")
        op.execute("SELECT pg_sleep(3)")
        """,
    )
    write_revision(
        pg, "d3", "d2", "op.execute(\"INSERT INTO deploy_log VALUES ('d3')\")"
    )
    terminated: list[int] = []

    def terminate_the_holder_during_d2() -> None:
        with other_session(pg) as session:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                holder = session.execute(
                    text(
                        "SELECT l.pid FROM pg_locks l JOIN pg_stat_activity a"
                        " USING (pid) WHERE l.locktype = 'advisory' AND l.granted"
                        " AND a.datname = current_database()"
                        " AND EXISTS (SELECT 1 FROM pg_stat_activity m"
                        " WHERE m.datname = current_database()"
                        " AND m.pid <> pg_backend_pid()"
                        " AND m.query LIKE '%pg_sleep(3)%' AND m.state = 'active')"
                    )
                ).scalar()
                session.commit()
                if holder:
                    session.execute(
                        text("SELECT pg_terminate_backend(:pid)"), {"pid": holder}
                    )
                    session.commit()
                    terminated.append(int(holder))
                    return
                time.sleep(0.05)

    killer = threading.Thread(target=terminate_the_holder_during_d2)
    killer.start()
    codes, outputs = parallel_upgrades(pg, count=VARIANT_DEPLOYS)
    killer.join()
    assert terminated, "the holder was never ended: the test proves nothing"
    failed = [output for code, output in zip(codes, outputs, strict=True) if code]
    assert len(failed) == 1, "\n".join(outputs)
    [line] = [line for line in failed[0].splitlines() if line.startswith("FAILED")]
    assert "was lost while revision d1 -> d2 was applied" in line
    assert "this run committed <base> -> d1 before that" in line
    assert_each_deploy_revision_ran_once_from(pg, ["d2", "d3"])


@pytest.mark.postgresql
def test_downgrades_racing_upgrades_leave_one_consistent_state(pg: Project) -> None:
    """4 ``downgrade r1`` and 4 ``upgrade head`` at once: each run finds the
    database as the one before it left it, so every process exits 0 and
    the log holds exactly the revisions alembic_version says are applied.
    """
    write_revision(
        pg,
        "r1",
        None,
        """
        op.execute("CREATE TABLE deploy_log (revision text)")
        op.execute("INSERT INTO deploy_log VALUES ('r1')")
        """,
    )
    for revision, down in (("r2", "r1"), ("r3", "r2")):
        path = write_revision(
            pg,
            revision,
            down,
            f"""
            op.execute("SELECT pg_sleep(0.2)")
            op.execute("INSERT INTO deploy_log VALUES ('{revision}')")
            """,
        )
        path.write_text(
            path.read_text().replace(
                "def downgrade():\n    pass\n",
                'def downgrade():\n    op.execute("DELETE FROM deploy_log'
                f" WHERE revision = '{revision}'\")\n",
            )
        )
    # The start state, in this process: the races below are the runs.
    upgrade_in_process(pg, "head")
    commands = [["downgrade", "r1"], ["upgrade", "head"]] * VARIANT_DEPLOYS
    codes, outputs = parallel_commands(pg, commands)
    assert codes == [0] * len(commands), "\n".join(outputs)
    [(version,)] = query(pg, "SELECT version_num FROM alembic_version")
    expected = {"r1": ["r1"], "r3": ["r1", "r2", "r3"]}[str(version)]
    assert_each_deploy_revision_ran_once_from(pg, expected)


@pytest.mark.pgbouncer
@pytest.mark.parametrize("per_migration", [False, True])
def test_waiting_deploys_do_not_take_the_poolers_connections(
    bounced: Project, per_migration: bool
) -> None:
    """8 deploys through a PgBouncer whose pool holds 5 server connections
    (``.ci/start-pgbouncer``): a waiter holds none between its tries, so the
    winner always gets one, and a read-only command answers meanwhile.
    """
    if per_migration:
        use_transaction_per_migration(bounced)
    write_deploy_revisions(bounced, PAUSE["postgresql"].format(1))
    assert ALEMBIC is not None
    answered: list[float] = []

    def time_current() -> None:
        time.sleep(3)
        started = time.monotonic()
        subprocess.run(
            [ALEMBIC, "current"],
            cwd=bounced.root,
            env=bounced.env,
            capture_output=True,
            timeout=120,
            check=True,
        )
        answered.append(time.monotonic() - started)

    reader = threading.Thread(target=time_current)
    reader.start()
    codes, outputs = parallel_upgrades(bounced, count=2 * VARIANT_DEPLOYS)
    reader.join()
    assert_every_deploy_succeeded_once(bounced, codes, outputs)
    assert answered and answered[0] < 10, answered


@pytest.mark.mariadb
def test_apps_on_other_databases_of_one_server_do_not_wait_for_each_other(
    maria: Project, mariadb_databases: object
) -> None:
    """GET_LOCK names are server-wide: the lock of another database's run
    (held here) must not be this database's.
    """
    write_revision(maria, "t1", None, 'op.execute("CREATE TABLE t (id int)")')
    other_database = "some_other_app"
    with other_session(maria) as session:
        held = session.execute(
            text("SELECT GET_LOCK(:name, 0)"),
            {"name": mysql_lock_name(other_database, "alembic_version", None)},
        ).scalar()
        assert held == 1
        maria.alembic("-x", "migration_lock_timeout=0", "upgrade", "head")
        # This database's own lock still keeps a second run out.
        session.execute(
            text("SELECT GET_LOCK(:name, 0)"), {"name": lock_name_of(maria)}
        )
        message = maria.failure("-x", "migration_lock_timeout=0", "downgrade", "base")
    assert message.startswith("Another migration run held the migration lock for 0 s")


@pytest.fixture
def silent_server(maria: Project) -> Iterator[None]:
    """The app's URL points at a port that accepts connections and never
    answers, like a hung server; PyMySQL's connect_timeout covers the TCP
    connect only, and the handshake would wait for ever.
    """
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    url = make_url(maria.server_url).set(port=listener.getsockname()[1])
    maria.env["BLOGAPP_DATABASE_URI"] = url.render_as_string(hide_password=False)
    try:
        yield
    finally:
        listener.close()


@pytest.mark.mariadb
@pytest.mark.usefixtures("silent_server")
def test_the_lock_connection_is_bounded_by_the_connect_timeout(
    maria: Project,
) -> None:
    write_revision(maria, "t1", None, 'op.execute("CREATE TABLE t (id int)")')
    started = time.monotonic()
    message = maria.failure("-x", "migration_connect_timeout=2", "upgrade", "head")
    assert time.monotonic() - started < 30
    assert message.startswith("Could not connect to mysql+pymysql://")
    assert " did not answer within 2 s (migration_connect_timeout = '2'" in message
    password = make_url(maria.server_url).password
    assert password
    assert password not in message


@pytest.mark.postgresql
def test_a_lock_timeout_longer_than_postgresql_takes_is_waited_on_our_clock(
    pg: Project,
) -> None:
    """3,000,000 s is past PostgreSQL's lock_timeout range; the lock is
    waited for on our own clock, so it is a valid (if patient) setting.
    """
    write_revision(pg, "t1", None, 'op.execute("CREATE TABLE t (id int)")')
    engine, holder = hold_the_migration_lock(pg)

    def release() -> None:
        holder.close()
        engine.dispose()  # the session, and its lock, end

    result = pg.alembic_acting_on(
        *("-x", "migration_lock_timeout=3000000", "upgrade", "head"),
        log_line="Waiting for another migration run to finish",
        action=release,
    )
    assert "Waiting for another migration run to finish" in result.stderr
    assert query(pg, "SELECT version_num FROM alembic_version") == [("t1",)]


@pytest.mark.postgresql
def test_a_waiters_lock_connection_ended_is_one_line(pg: Project) -> None:
    """The session a run waits for the lock on is ended (a DBA, a
    failover): one FAILED line saying so, no traceback, nothing applied.
    (While it waits, the run has no other connection to the database.)
    """
    write_revision(pg, "w1", None, 'op.execute("CREATE TABLE w (id int)")')
    engine, holder = hold_the_migration_lock(pg)
    holding = holder.execute(text("SELECT pg_backend_pid()")).scalar()

    def end_the_waiters_session() -> None:
        with other_session(pg) as session:
            session.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> :holding"
                    " AND pid <> pg_backend_pid()"
                ),
                {"holding": holding},
            )
            session.commit()

    try:
        result = pg.alembic_acting_on(
            *("-x", "migration_lock_timeout=20", "upgrade", "head"),
            log_line="Waiting for another migration run to finish",
            action=end_the_waiters_session,
            ok=False,
        )
    finally:
        holder.close()
        engine.dispose()
    assert "Traceback" not in result.stdout + result.stderr
    [line] = [x for x in result.stdout.splitlines() if x.startswith("FAILED: ")]
    assert line.startswith(
        "FAILED: The connection this run waited for the migration lock on"
        " (PostgreSQL advisory lock "
    )
    assert "nothing was migrated" in line
    assert "w" not in {
        str(row[0]) for row in query(pg, "SELECT tablename FROM pg_tables")
    }
