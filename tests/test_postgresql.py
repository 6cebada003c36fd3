"""On a real PostgreSQL server: failed migrations lose nothing, parallel
deploys apply each revision once, and the password never appears.
"""

from __future__ import annotations

import urllib.parse

import pytest
from sqlalchemy.engine import make_url

from harness import Project
from harness import assert_each_deploy_revision_ran_once
from harness import columns
from harness import hold_the_migration_lock
from harness import outputs_of_every_command
from harness import parallel_upgrades
from harness import query
from harness import upgrade_in_process
from harness import use_transaction_per_migration
from harness import write_deploy_revisions
from harness import write_revision

pytestmark = pytest.mark.postgresql


def write_notes_revisions(project: Project) -> None:
    """r1 makes a table with two rows; r2 succeeds; r3 changes data, then fails."""
    write_revision(
        project,
        "r1",
        None,
        """
        op.execute("CREATE TABLE note (id integer PRIMARY KEY, body text)")
        op.execute("INSERT INTO note VALUES (1, 'first'), (2, 'second')")
        """,
    )
    write_revision(project, "r2", "r1", 'op.execute("CREATE TABLE tag (id integer)")')
    write_revision(
        project,
        "r3",
        "r2",
        """
        op.execute("ALTER TABLE note ADD COLUMN author text")
        op.execute("UPDATE note SET body = 'overwritten'")
        op.execute("DELETE FROM note WHERE id = 2")
        op.execute("SELECT this_function_does_not_exist()")
        """,
    )


def test_a_failed_run_rolls_everything_back_by_default(pg: Project) -> None:
    write_notes_revisions(pg)
    upgrade_in_process(pg, "r1")  # the start state, in this process

    result = pg.alembic("upgrade", "head", ok=False)
    assert "this_function_does_not_exist() does not exist" in pg.output(result)
    assert query(pg, "SELECT id, body FROM note ORDER BY id") == [
        (1, "first"),
        (2, "second"),
    ]
    assert columns(pg, "note") == ["id", "body"]
    assert columns(pg, "tag") == [], "r2 ran in the same, rolled back transaction"
    assert query(pg, "SELECT version_num FROM alembic_version") == [("r1",)]


def test_transaction_per_migration_keeps_the_revisions_that_succeeded(
    pg: Project,
) -> None:
    use_transaction_per_migration(pg)
    write_notes_revisions(pg)
    upgrade_in_process(pg, "r1")  # the start state, in this process

    pg.alembic("upgrade", "head", ok=False)
    assert columns(pg, "tag") == ["id"], "r2 was committed on its own"
    assert query(pg, "SELECT version_num FROM alembic_version") == [("r2",)]
    assert query(pg, "SELECT id, body FROM note ORDER BY id") == [
        (1, "first"),
        (2, "second"),
    ]
    assert columns(pg, "note") == ["id", "body"]


def test_eight_parallel_deploys_apply_each_revision_once(pg: Project) -> None:
    write_deploy_revisions(pg, "SELECT pg_sleep(1)")
    codes, outputs = parallel_upgrades(pg)
    assert codes == [0] * 8, "\n".join(outputs)
    assert sum(output.count("Running upgrade") for output in outputs) == 3
    assert_each_deploy_revision_ran_once(pg)
    assert query(pg, "SELECT version_num FROM alembic_version") == [("d3",)]


def test_a_held_lock_times_out_with_a_clear_error(pg: Project) -> None:
    write_revision(pg, "t1", None, 'op.execute("CREATE TABLE t (id integer)")')
    engine, connection = hold_the_migration_lock(pg)
    try:
        result = pg.alembic(
            "-x", "migration_lock_timeout=1", "upgrade", "head", ok=False
        )
        assert (
            "FAILED: Another migration run held the migration lock for 1 s"
            " (migration_lock_timeout = '1' (from -x migration_lock_timeout=...))."
            " Wait for it to finish and run again, raise migration_lock_timeout,"
            " or set migration_lock = false if nothing else migrates this"
            " database." in result.stdout
        )
        assert columns(pg, "t") == []

        pg.alembic("-x", "migration_lock=false", "upgrade", "head")
        assert columns(pg, "t") == ["id"]
    finally:
        connection.close()
        engine.dispose()


def password_forms(url: str) -> list[str]:
    password = make_url(url).password
    assert password
    return [password, urllib.parse.quote_plus(password)]


def test_the_password_never_appears(pg: Project) -> None:
    secrets = password_forms(pg.server_url)
    outputs = outputs_of_every_command(pg)
    masked = make_url(pg.server_url).render_as_string(hide_password=True)
    assert masked in outputs[1]
    for output in outputs:
        for secret in secrets:
            assert secret not in output


@pytest.mark.parametrize("failure", ["server down", "wrong password"])
def test_an_unreachable_database_is_a_clear_error_without_the_password(
    pg: Project, failure: str
) -> None:
    url = make_url(pg.server_url)
    if failure == "server down":
        url = url.set(port=1)
        expected = "Connection refused"
    else:
        url = url.set(password="wrong%pass@word:x")
        expected = f'password authentication failed for user "{url.username}"'
    rendered = url.render_as_string(hide_password=False)
    pg.env["BLOGAPP_DATABASE_URI"] = rendered
    result = pg.alembic("upgrade", "head", ok=False)
    output = pg.output(result)
    assert "Traceback" not in output
    [line] = [x for x in result.stdout.splitlines() if x.startswith("FAILED: ")]
    assert line.startswith(
        f"FAILED: Could not connect to {url.render_as_string(hide_password=True)}"
        " (the database of Flask app 'blogapp'): "
    )
    assert expected in line
    assert "?." not in line, "the driver's question got a full stop"
    assert line.endswith(
        "Check that the server is running and reachable, and the user name and"
        " password in the app's configuration."
    )
    for secret in password_forms(rendered):
        assert secret not in output
