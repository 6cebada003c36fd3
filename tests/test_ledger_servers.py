"""The ledger on the real servers: ``--sql`` scripts applied with the
servers' own clients, failures after part of a run committed, what a
failed step is named, timestamps.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from datetime import datetime
from datetime import timedelta
from datetime import timezone

import pytest
from sqlalchemy.engine import make_url

from harness import Project
from harness import query
from harness import write_revision

PSQL = shutil.which("psql")
MARIADB = shutil.which("mariadb") or shutil.which("mysql")


def apply_script(project: Project, script: str) -> None:
    """Apply an ``upgrade --sql`` script as a DBA would: with the server's
    own command-line client, stopping at the first error.
    """
    url = make_url(project.server_url)
    env = {**os.environ, "PGPASSWORD": url.password or ""}
    if url.get_backend_name() == "postgresql":
        assert PSQL is not None, "psql is not installed"
        command = [
            PSQL, "-X", "-q", "-v", "ON_ERROR_STOP=1",
            "-h", str(url.host), "-p", str(url.port or 5432),
            "-U", str(url.username), "-d", str(url.database),
        ]  # fmt: skip
    else:
        assert MARIADB is not None, "the mariadb client is not installed"
        command = [
            MARIADB, "-h", str(url.host), "-P", str(url.port or 3306),
            "-u", str(url.username), f"-p{url.password}", str(url.database),
        ]  # fmt: skip
    result = subprocess.run(
        command, input=script, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


def database_user(project: Project) -> str:
    return str(make_url(project.server_url).username)


def write_two(project: Project) -> None:
    write_revision(project, "r1", None, "op.execute('CREATE TABLE a (id int)')")
    write_revision(project, "r2", "r1", "op.execute('CREATE TABLE b (id int)')")


@pytest.mark.parametrize("server", ["pg", "maria"])
def test_an_sql_script_records_when_and_by_whom_it_is_applied(
    server: str, request: pytest.FixtureRequest
) -> None:
    project: Project = request.getfixturevalue(server)
    write_two(project)
    script = project.alembic("upgrade", "head", "--sql").stdout
    # Applied later, by someone else: the rows say when, and who.
    time.sleep(2)
    before = datetime.now(timezone.utc) - timedelta(seconds=1)
    apply_script(project, script)
    after = datetime.now(timezone.utc) + timedelta(seconds=1)
    rows = query(
        project,
        "SELECT revision, from_revision, outcome, started_at, os_user, command"
        " FROM alembic_ledger ORDER BY id",
    )
    assert [row[:3] for row in rows] == [
        ("r1", None, "applied"),
        ("r2", "r1", "applied"),
    ]
    for row in rows:
        started = row[3]
        assert isinstance(started, datetime)
        if started.tzinfo is None:  # MariaDB's DATETIME: UTC
            started = started.replace(tzinfo=timezone.utc)
        assert before <= started <= after
        assert str(row[4]).split("@")[0] == database_user(project)
        assert "upgrade head --sql" in str(row[5])
    assert query(project, "SELECT version_num FROM alembic_version") == [("r2",)]
