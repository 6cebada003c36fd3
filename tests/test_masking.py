"""A password quoted by a revision's own error (a URL, ``password=`` in a
DSN, a libpq keyword string) is masked in every line this package writes
about it: the checks' warning, the ``FAILED:`` line, the log at DEBUG and
the ledger. (The error's own traceback, printed by Python when the user's
exception ends the run, is the user's and is left as it is.)
"""

from __future__ import annotations

import re

import pytest

from harness import Project
from harness import ProjectFactory
from harness import query
from harness import write_revision

SECRETS = ("Url5ecret", "Dsn5ecret", "Kw 5ecret")

RAISING = """
op.execute("CREATE TABLE masked_probe (id integer)")
raise RuntimeError(
    "could not reach postgresql://app:Url5ecret@db/app, dsn host=db"
    " password=Dsn5ecret user=app, libpq password='Kw 5ecret' sslmode=require"
)
"""

MASKED = (
    "RuntimeError: could not reach postgresql://***@db/app, dsn host=db"
    " password=*** user=app, libpq password='***' sslmode=require"
)


def debug_logging(project: Project) -> None:
    """Every logger at DEBUG, SQLAlchemy's statements and parameters too."""
    ini = project.root / "alembic.ini"
    text, count = re.subn(r"(?m)^level = \w+$", "level = DEBUG", ini.read_text())
    assert count >= 4
    ini.write_text(text)


def ours(output: str) -> str:
    """What this package wrote: everything before the traceback Python
    prints for the user's exception that ended the run.
    """
    head, _, _ = output.partition("Traceback (most recent call last):")
    return head


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


def warning_line(output: str) -> str:
    [line] = [
        line
        for line in output.splitlines(keepends=True)
        if line.startswith("WARNI [alembic_flask_env.checks.run]")
    ]
    return line


def checks_warning(project: Project, revision: str) -> str:
    path = project.root / "migrations" / "versions" / f"{revision}.py"
    return (
        f"WARNI [alembic_flask_env.checks.run] Revision {revision} ({path}, line"
        " 11) could not be checked to its end: while its operations were"
        f" recorded, its upgrade() raised {MASKED}. What it did before that was"
        " checked; the rest runs unchecked.\n"
    )


def test_on_sqlite_the_debug_log_and_the_ledger(blog: Project) -> None:
    debug_logging(blog)
    write_revision(blog, "r3", None, RAISING)
    result = blog.alembic("upgrade", "head", ok=False)
    logged = ours(blog.output(result))
    assert "DEBUG [alembic_flask_env" in logged
    assert_no_secret(logged)
    [(error,)] = blog.query("default.db", "SELECT error FROM alembic_ledger")
    assert error == MASKED.removeprefix("RuntimeError: ")


@pytest.mark.postgresql
def test_on_postgresql_the_checks_warning_and_the_debug_log(pg: Project) -> None:
    debug_logging(pg)
    write_revision(pg, "r3", None, RAISING)
    result = pg.alembic("-x", "migration_checks=warn", "upgrade", "head", ok=False)
    logged = ours(pg.output(result))
    assert warning_line(logged) == checks_warning(pg, "r3")
    assert_no_secret(logged)
    [(error,)] = query(pg, "SELECT error FROM alembic_ledger")
    assert error == MASKED.removeprefix("RuntimeError: ")


@pytest.mark.mariadb
def test_on_mariadb_the_failed_line_and_the_logged_traceback(maria: Project) -> None:
    debug_logging(maria)
    write_revision(maria, "r3", None, RAISING)
    result = maria.alembic("-x", "migration_checks=warn", "upgrade", "head", ok=False)
    output = maria.output(result)
    # The traceback is logged by this package (then one FAILED line): masked.
    assert "ERROR [alembic_flask_env.runtime.failures] The revision failed:" in output
    assert_no_secret(output)
    assert warning_line(output) == checks_warning(maria, "r3")
    [failed] = [x for x in result.stdout.splitlines() if x.startswith("FAILED: ")]
    assert failed.endswith(f"The error: {MASKED.removeprefix('RuntimeError: ')}")


def test_on_sqlite_tenants_the_failed_line_and_the_logged_traceback(
    project_factory: ProjectFactory,
) -> None:
    """A tenant's failure is caught, logged with its traceback and quoted in
    the FAILED line, all by this package: nothing shows the secrets.
    """
    project = project_factory(
        "blog",
        template="flask",
        flask_app="blogapp:create_app",
        flask_tenants="tenancy:databases",
    )
    (project.root / "instance").mkdir(exist_ok=True)
    project.env["BLOG_TENANTS"] = "acme"
    project.env["BLOG_TENANT_DIR"] = str(project.root / "instance")
    debug_logging(project)
    write_revision(project, "r3", None, RAISING)
    result = project.alembic("upgrade", "head", ok=False)
    output = project.output(result)
    assert "ERROR [alembic_flask_env.runtime.tenanted] Tenant 'acme' failed:\n" in (
        output
    )
    assert f"\n{MASKED}\n" in output  # the last line of the logged traceback
    assert_no_secret(output)
    [failed] = [x for x in result.stdout.splitlines() if x.startswith("FAILED: ")]
    message = MASKED.removeprefix("RuntimeError: ")
    assert failed.startswith(f"FAILED: 1 of 1 tenants failed: 'acme': {message}")
