"""Expand/contract on the real PostgreSQL, through the real ``alembic`` and
``python -m alembic_flask_env`` console scripts: each supported op expands
(rows written in the old shape through the table and in the new one through
the version schema's views are seen both ways), aborts (leaving the catalog
exactly as before) and contracts; a backfill killed with SIGKILL converges
when run again, or aborts cleanly; and what cannot be phased is refused
with one ``FAILED:`` line.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import upgraded_to

from alembic_flask_env.expand import version_schema_name

from harness import ALEMBIC
from harness import Project
from harness import other_session
from harness import package_command
from harness import query
from harness import write_revision

VIEWS = version_schema_name("b2")


class _Matching:
    """Equal to a string matching a pattern (the backfill's timing varies)."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and re.fullmatch(self.pattern, other) is not None

    def __repr__(self) -> str:
        return f"<matching {self.pattern!r}>"


ANY_ROWS = _Matching(r"account\.balance: 300 rows, 300 in this run in [0-9.]+ s")

#: The table every case starts from, with ROWS rows.
ROWS = 300
TABLE = f"""
op.execute("CREATE TABLE account (id serial PRIMARY KEY, name text NOT NULL,"
           " balance integer, note text)")
op.execute("INSERT INTO account (name, balance) SELECT 'n' || i, i"
           " FROM generate_series(1, {ROWS}) AS i")
"""
#: The backfill tests' table: BIG rows.
BIG = 20_000
_BIG_TABLE = TABLE.replace(str(ROWS), str(BIG))


def write_expand(
    project: Project, upgrade: str, attributes: str = "", revision: str = "b2"
) -> Path:
    """A revision marked expand_contract = True after a1 (or ``down``)."""
    down = "a1" if revision == "b2" else "b2"
    body = textwrap.indent(textwrap.dedent(upgrade).strip(), "    ")
    path = project.root / "migrations" / "versions" / f"{revision}.py"
    path.write_text(
        "import sqlalchemy as sa\n"
        "from alembic import op\n\n"
        f"revision = {revision!r}\n"
        f"down_revision = {down!r}\n"
        "branch_labels = None\n"
        "depends_on = None\n"
        "expand_contract = True\n"
        f"{textwrap.dedent(attributes)}\n\n"
        f"def upgrade():\n{body}\n\n\n"
        "def downgrade():\n    pass\n"
    )
    return path


def catalog(project: Project) -> dict[str, list[tuple[object, ...]]]:
    """What of the database expand may touch: schemas, relations, columns,
    constraints, triggers, functions, and alembic_version.
    """
    user = "NOT IN ('pg_catalog', 'information_schema', 'pg_toast')"
    return {
        "schemas": query(
            project,
            f"SELECT nspname FROM pg_namespace WHERE nspname {user}"
            " AND nspname NOT LIKE 'pg_temp%' AND nspname NOT LIKE 'pg_toast%'"
            " ORDER BY 1",
        ),
        "relations": query(
            project,
            "SELECT n.nspname, c.relname, c.relkind FROM pg_class c JOIN"
            f" pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname {user}"
            " ORDER BY 1, 2",
        ),
        "columns": query(
            project,
            "SELECT table_schema, table_name, column_name, ordinal_position,"
            " data_type, is_nullable, column_default FROM"
            f" information_schema.columns WHERE table_schema {user} ORDER BY 1, 2, 4",
        ),
        "constraints": query(
            project,
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid),"
            " convalidated FROM pg_constraint WHERE conrelid <> 0 ORDER BY 1, 2",
        ),
        "triggers": query(
            project, "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1"
        ),
        "functions": query(
            project,
            "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid ="
            f" p.pronamespace WHERE n.nspname {user} ORDER BY 1",
        ),
        "version": query(project, "SELECT version_num FROM alembic_version"),
    }


def run(project: Project, sql: str) -> None:
    """One statement in a transaction of its own, as an app's request."""
    from sqlalchemy import create_engine
    from sqlalchemy import text

    engine = create_engine(project.server_url)
    try:
        with engine.begin() as connection:
            connection.execute(text(sql))
    finally:
        engine.dispose()


def command(project: Project, *arguments: str, ok: bool = True) -> str:
    code, output = package_command(project, *arguments)
    assert (code == 0) == ok, output
    return output


@pytest.fixture(scope="session")
def account_template(
    postgresql_templates: Callable[[str, Callable[[str], None]], str],
    template_blogs: Callable[[str], Project],
) -> str:
    """A PostgreSQL database at a1 (table account, ROWS rows), made once per
    session by a real ``alembic upgrade a1``: each test starts from a copy.
    """
    return postgresql_templates(
        "expand-contract-account",
        # A real ``alembic upgrade a1``: the template holds what that run
        # leaves, the ledger included (the catalog tests compare it).
        upgraded_to(template_blogs, "a1", TABLE),
    )


@pytest.fixture(scope="session")
def big_account_template(
    postgresql_templates: Callable[[str, Callable[[str], None]], str],
    template_blogs: Callable[[str], Project],
) -> str:
    """The same with BIG rows, for the backfills slow enough to be killed."""
    return postgresql_templates(
        "expand-contract-big-account",
        upgraded_to(template_blogs, "a1", _BIG_TABLE),
    )


def _on_a_copy(blog: Project, url: str, table: str) -> Project:
    """The blog project with revision a1 of ``table``, on ``url`` (a copy of
    a template already at a1).
    """
    write_revision(blog, "a1", None, table)
    blog.env["BLOGAPP_DATABASE_URI"] = url
    blog.server_url = url
    return blog


@pytest.fixture
def account(
    blog: Project,
    postgresql_clones: Callable[[str], str],
    account_template: str,
) -> Project:
    """The blog on PostgreSQL, at revision a1: table account, ROWS rows
    (a copy of :func:`account_template`).
    """
    return _on_a_copy(blog, postgresql_clones(account_template), TABLE)


@pytest.fixture
def big_account(
    blog: Project,
    postgresql_clones: Callable[[str], str],
    big_account_template: str,
) -> Project:
    """The blog on PostgreSQL at a1 with BIG rows (a copy of
    :func:`big_account_template`), and b2 retyping account.balance.
    """
    project = _on_a_copy(blog, postgresql_clones(big_account_template), _BIG_TABLE)
    write_expand(
        project,
        'op.alter_column("account", "balance", type_=sa.BigInteger())',
    )
    return project


@dataclass(frozen=True)
class Case:
    upgrade: str
    attributes: str
    #: Old release writes through the table, new one through the view; then
    #: each reads the other's row under its own names.
    old_write: str
    new_write: str
    old_reads_new: str
    new_reads_old: str
    #: What the table looks like after contract: a query and its rows.
    final: str
    final_rows: list[tuple[object, ...]]


CASES = {
    "rename_column": Case(
        'op.alter_column("account", "name", new_column_name="full_name")',
        "",
        "INSERT INTO account (name, balance) VALUES ('old', 1001)",
        f"INSERT INTO {VIEWS}.account (full_name, balance) VALUES ('new', 1002)",
        "SELECT name FROM account WHERE balance = 1002",
        f"SELECT full_name FROM {VIEWS}.account WHERE balance = 1001",
        "SELECT full_name FROM account WHERE id > 300 ORDER BY id",
        [("old",), ("new",)],
    ),
    "rename_table": Case(
        'op.rename_table("account", "client")',
        "",
        "INSERT INTO account (name, balance) VALUES ('old', 1001)",
        f"INSERT INTO {VIEWS}.client (name, balance) VALUES ('new', 1002)",
        "SELECT name FROM account WHERE balance = 1002",
        f"SELECT name FROM {VIEWS}.client WHERE balance = 1001",
        "SELECT name FROM client WHERE id > 300 ORDER BY id",
        [("old",), ("new",)],
    ),
    "change_type": Case(
        'op.alter_column("account", "balance", type_=sa.BigInteger(),'
        ' postgresql_using="balance::bigint * 1")',
        "",
        "INSERT INTO account (name, balance) VALUES ('old', 5)",
        f"INSERT INTO {VIEWS}.account (name, balance) VALUES ('new', 7)",
        "SELECT balance FROM account WHERE name = 'new'",
        f"SELECT balance FROM {VIEWS}.account WHERE name = 'old'",
        "SELECT pg_typeof(balance)::text, balance FROM account WHERE id > 300"
        " ORDER BY id",
        [("bigint", 5), ("bigint", 7)],
    ),
    "change_type_with_a_way_back": Case(
        'op.alter_column("account", "note", type_=sa.Integer(),'
        ' postgresql_using="coalesce(length(note), 0)")',
        'expand_contract_down = {"account.note": "repeat(\'x\', note)"}',
        "INSERT INTO account (name, note) VALUES ('old', 'abc')",
        f"INSERT INTO {VIEWS}.account (name, note) VALUES ('new', 3)",
        "SELECT note FROM account WHERE name = 'new'",
        f"SELECT note FROM {VIEWS}.account WHERE name = 'old'",
        "SELECT note FROM account WHERE id > 300 ORDER BY id",
        [(3,), (3,)],
    ),
    "set_not_null": Case(
        'op.alter_column("account", "note", nullable=False)',
        'expand_contract_fill = {"account.note": "\'none\'"}',
        "INSERT INTO account (name) VALUES ('old')",
        f"INSERT INTO {VIEWS}.account (name, note) VALUES ('new', 'given')",
        "SELECT note FROM account WHERE name = 'new'",
        f"SELECT note FROM {VIEWS}.account WHERE name = 'old'",
        "SELECT is_nullable FROM information_schema.columns"
        " WHERE table_name = 'account' AND column_name = 'note'",
        [("NO",)],
    ),
    "add_not_null_column": Case(
        'op.add_column("account", sa.Column("score", sa.Integer(), nullable=False))',
        'expand_contract_fill = {"account.score": "balance * 2"}',
        "INSERT INTO account (name, balance) VALUES ('old', 3)",
        f"INSERT INTO {VIEWS}.account (name, balance, score) VALUES ('new', 4, 9)",
        "SELECT balance FROM account WHERE name = 'new'",
        f"SELECT score FROM {VIEWS}.account WHERE name = 'old'",
        "SELECT score FROM account WHERE id = 1 OR name IN ('old', 'new') ORDER BY id",
        [(2,), (6,), (9,)],
    ),
    "drop_column": Case(
        'op.drop_column("account", "note")',
        "",
        "INSERT INTO account (name, note) VALUES ('old', 'n')",
        f"INSERT INTO {VIEWS}.account (name) VALUES ('new')",
        "SELECT name FROM account WHERE name = 'new'",
        f"SELECT name FROM {VIEWS}.account WHERE name = 'old'",
        "SELECT count(*) FROM information_schema.columns"
        " WHERE table_name = 'account' AND column_name = 'note'",
        [(0,)],
    ),
}

#: What each release reads of the other's row.
SEEN = {
    "rename_column": ([("new",)], [("old",)]),
    "rename_table": ([("new",)], [("old",)]),
    "change_type": ([(7,)], [(5,)]),
    "change_type_with_a_way_back": ([("xxx",)], [(3,)]),
    "set_not_null": ([("given",)], [("none",)]),
    "add_not_null_column": ([(4,)], [(6,)]),
    "drop_column": ([("new",)], [("old",)]),
}


@pytest.mark.postgresql
@pytest.mark.parametrize("name", list(CASES))
def test_each_op_expands_aborts_to_the_same_catalog_and_contracts(
    account: Project, name: str
) -> None:
    case = CASES[name]
    write_expand(account, case.upgrade, case.attributes)
    before = catalog(account)
    account.alembic("upgrade", "head")
    assert query(account, "SELECT version_num FROM alembic_version") == [("b2",)]
    assert query(
        account, "SELECT revision, version_schema, phase FROM alembic_flask_env_expand"
    ) == [("b2", VIEWS, "expanded")]
    run(account, case.old_write)
    run(account, case.new_write)
    old_sees, new_sees = SEEN[name]
    assert query(account, case.old_reads_new) == old_sees
    assert query(account, case.new_reads_old) == new_sees
    status = command(account, "status")
    assert status.startswith("b2: expanded (since ")

    # Abort: the catalog as before, the rows written meanwhile kept.
    assert command(account, "abort").startswith(
        "Aborted revision b2; alembic_version is back at a1."
    )
    assert catalog(account) == before
    assert query(account, "SELECT count(*) FROM account") == [(ROWS + 2,)]
    run(account, "DELETE FROM account WHERE id > 300")

    # Expand again, write in both shapes, contract.
    account.alembic("upgrade", "head")
    run(account, case.old_write)
    run(account, case.new_write)
    assert command(account, "contract").startswith("Contracted revision b2:")
    assert query(account, case.final) == case.final_rows
    assert query(account, "SELECT version_num FROM alembic_version") == [("b2",)]
    after = catalog(account)
    assert (VIEWS,) not in after["schemas"]
    assert after["triggers"] == after["functions"] == []
    assert not [c for c in after["constraints"] if "afe_" in str(c[1])]
    assert command(account, "status") == (
        "No revision is expanded and awaiting its contract.\n"
    )


@pytest.mark.postgresql
def test_downgrade_of_an_expanded_revision_aborts_it(account: Project) -> None:
    write_expand(
        account,
        'op.alter_column("account", "balance", type_=sa.BigInteger())',
    )
    before = catalog(account)
    account.alembic("upgrade", "head")
    account.alembic("downgrade", "a1")
    assert catalog(account) == before


#: A backfill slow enough to be killed halfway: small batches, a pause.
SLOW = ("-x", "backfill_batch_size=200", "-x", "backfill_pause=0.05")


def _kill_during_backfill(project: Project) -> None:
    """Start the expand, SIGKILL it once some batches are committed."""
    assert ALEMBIC is not None
    process = subprocess.Popen(
        [ALEMBIC, *SLOW, "upgrade", "head"],
        cwd=project.root,
        env=project.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            time.sleep(0.2)
            done = _done(project)
            if done >= 1000:
                break
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    assert 1000 <= _done(project) < BIG


def _done(project: Project) -> int:
    if query(project, "SELECT to_regclass('alembic_flask_env_expand')") == [(None,)]:
        return 0
    rows = query(
        project,
        "SELECT (progress -> '0' ->> 'done')::int FROM alembic_flask_env_expand",
    )
    return int(rows[0][0] or 0) if rows else 0  # type: ignore[call-overload]


@pytest.mark.postgresql
def test_a_backfill_killed_halfway_goes_on_when_run_again(
    big_account: Project,
) -> None:
    pg = big_account
    _kill_during_backfill(pg)
    assert query(pg, "SELECT phase FROM alembic_flask_env_expand") == [("backfilling",)]
    assert query(pg, "SELECT version_num FROM alembic_version") == [("a1",)]
    status = command(pg, "status")
    assert "b2: backfilling" in status
    assert "backfill of account.balance: " in status
    assert command(pg, "contract", ok=False).splitlines()[-1] == (
        "FAILED: contract: the expand of revision b2 has not finished (phase"
        " backfilling); nothing was contracted. Run 'alembic upgrade b2' to"
        " finish it (it goes on where it stopped), or 'python -m"
        " alembic_flask_env abort'."
    )
    result = pg.alembic("-x", "backfill_batch_size=5000", "upgrade", "head")
    assert "Revision b2: its expand was stopped while backfilling; going on" in (
        pg.output(result)
    )
    # Every row converted exactly once: the batches done add up to the table.
    assert _done(pg) == BIG
    assert query(
        pg,
        "SELECT count(*) FROM account WHERE balance__afe_new IS DISTINCT FROM balance",
    ) == [(0,)]
    assert query(pg, "SELECT version_num FROM alembic_version") == [("b2",)]


@pytest.mark.postgresql
def test_abort_after_a_partial_backfill_leaves_the_database_as_before(
    big_account: Project,
) -> None:
    pg = big_account
    before = catalog(pg)
    _kill_during_backfill(pg)
    output = command(pg, "abort")
    assert output.startswith("Aborted the unfinished expand of revision b2;")
    assert catalog(pg) == before
    assert query(pg, "SELECT count(*) FROM account") == [(BIG,)]


@pytest.mark.postgresql
def test_a_second_expand_while_one_is_pending_is_refused(account: Project) -> None:
    write_expand(account, 'op.alter_column("account", "name", new_column_name="n")')
    account.alembic("upgrade", "head")
    write_expand(account, 'op.drop_column("account", "note")', revision="c3")
    message = account.failure("upgrade", "head")
    assert message == (
        "Revision c3 is marked expand_contract = True, and revision b2 is"
        " expanded already and not contracted (phase expanded); one expand at"
        " a time. Run 'python -m alembic_flask_env contract' once the release"
        " before it is gone (or 'python -m alembic_flask_env abort'), then"
        " upgrade again."
    )


@pytest.mark.postgresql
def test_an_upgrade_past_a_revision_awaiting_contract_says_so(
    account: Project,
) -> None:
    write_expand(account, 'op.alter_column("account", "name", new_column_name="n")')
    account.alembic("upgrade", "head")
    write_revision(account, "c3", "b2", 'op.execute("SELECT 1")')
    assert account.failure("upgrade", "head") == (
        "Revision b2 awaits its contract (phase expanded), so revision c3 cannot"
        " run yet: run 'python -m alembic_flask_env contract' once the release"
        " before it is gone (or 'python -m alembic_flask_env abort'), then"
        " upgrade again."
    )


@pytest.mark.postgresql
def test_an_upgrade_going_beyond_an_expand_contract_revision_is_refused(
    account: Project,
) -> None:
    write_expand(account, 'op.alter_column("account", "name", new_column_name="n")')
    write_revision(account, "c3", "b2", 'op.execute("SELECT 1")')
    message = account.failure("upgrade", "head")
    assert message.startswith(
        "Revision b2 is marked expand_contract = True and the upgrade goes past"
        " it (to c3)"
    )
    assert query(account, "SELECT version_num FROM alembic_version") == [("a1",)]


@pytest.mark.postgresql
def test_an_op_that_cannot_be_phased_is_refused_with_its_line(pg: Project) -> None:
    write_revision(pg, "a1", None, TABLE)
    path = write_expand(
        pg,
        """
        op.alter_column("account", "name", new_column_name="full_name")
        op.create_index("ix_account_note", "account", ["note"])
        """,
    )
    message = pg.failure("upgrade", "head")
    assert message == (
        "Revision b2 is marked expand_contract = True, and op.create_index()"
        f" cannot be phased ({path}, line 13); nothing ran. Fix: an"
        " expand_contract revision supports op.alter_column(new_column_name=...),"
        " op.rename_table(), op.alter_column(type_=..., postgresql_using=...),"
        " op.alter_column(nullable=False), op.add_column() of a NOT NULL column"
        " (with expand_contract_fill) and op.drop_column(). Move the operation"
        " to a revision of its own (without expand_contract)."
    )
    # Before anything ran: not even a1.
    assert query(pg, "SELECT to_regclass('account')") == [(None,)]


@pytest.mark.postgresql
def test_offline_sql_is_refused(account: Project) -> None:
    write_expand(account, 'op.drop_column("account", "note")')
    message = account.failure("upgrade", "a1:b2", "--sql")
    assert message.startswith(
        f"Revision b2 ({account.root / 'migrations' / 'versions' / 'b2.py'}) is"
        " marked expand_contract = True, and this is an offline (--sql) run"
    )


def _refusal(project: Project, dialect: str, before: str = "") -> None:
    message = project.failure("upgrade", "head")
    assert message.startswith(before)
    assert message.removeprefix(before).split(" Each failed tenant")[0] == (
        f"Revision b2 ({project.root / 'migrations' / 'versions' / 'b2.py'}) is"
        f" marked expand_contract = True, and {dialect}; expand/contract works"
        " on PostgreSQL, one database, online, for now. Run it there, or remove"
        " expand_contract = True to run its ops as they are (the checks then"
        " hold them to their rules)."
    )


def _simple_revisions(project: Project) -> None:
    write_revision(
        project,
        "a1",
        None,
        'op.execute("CREATE TABLE account (id integer PRIMARY KEY, name text)")',
    )
    write_expand(project, 'op.alter_column("account", "name", new_column_name="n")')


def test_refused_on_sqlite(blog: Project) -> None:
    _simple_revisions(blog)
    _refusal(blog, "the database is sqlite")


@pytest.mark.mariadb
def test_refused_on_mariadb(maria: Project) -> None:
    _simple_revisions(maria)
    _refusal(maria, "the database is mysql")


@pytest.mark.postgresql
def test_refused_under_flask_tenants(pg: Project) -> None:
    pg.set_ini_option("flask_tenants", "tenancy:schemas")
    pg.env["BLOG_TENANTS"] = "acme"
    _simple_revisions(pg)
    _refusal(
        pg,
        "this run migrates the tenants of flask_tenants",
        before="1 of 1 tenants failed: 'acme': ",
    )


def test_the_lint_advises_expand_contract_and_passes_a_marked_revision(
    blog: Project,
) -> None:
    # (account is the database's: a table the range creates is exempt.)
    write_revision(blog, "a1", None, 'op.execute("SELECT 1")')
    write_revision(
        blog,
        "b2",
        "a1",
        'op.alter_column("account", "name", new_column_name="full_name")',
    )
    code, output = package_command(blog, "lint")
    assert code == 1
    assert (
        " Or keep the op as it is in a revision of its own marked expand_contract"
        " = True: 'alembic upgrade' then expands it (the old and the new release"
        " both keep working) and 'python -m alembic_flask_env contract' completes"
        " it once the old release is gone."
    ) in output
    write_expand(blog, 'op.alter_column("account", "name", new_column_name="n")')
    code, output = package_command(blog, "lint")
    assert (code, output.strip()) == (0, "No findings.")


@pytest.mark.postgresql
def test_the_lint_of_the_database_reports_a_revision_awaiting_contract(
    account: Project,
) -> None:
    write_expand(account, 'op.alter_column("account", "name", new_column_name="n")')
    account.alembic("upgrade", "head")
    code, output = package_command(account, "lint", "--database")
    assert code == 0, output
    assert output.splitlines()[-1] == (
        "Revision b2 is expanded and awaits its contract (phase expanded): run"
        " 'python -m alembic_flask_env contract' once the release before it is"
        " gone; no later revision runs until then."
    )


@pytest.mark.postgresql
def test_a_long_backfill_says_how_far_it_got(big_account: Project) -> None:
    pg = big_account
    result = pg.alembic(
        "-x", "backfill_batch_size=500", "-x", "backfill_pause=0.15", "upgrade", "head"
    )
    log = pg.output(result)
    assert re.search(
        r"Backfill of account\.balance \(revision b2\): \d+ of ~\d+ rows,"
        r" \d+ rows/s, ETA \d+ s",
        log,
    ), log
    assert "Backfill of account.balance (revision b2): done, 20000 rows in " in log


@pytest.mark.postgresql
def test_each_phase_is_in_the_ledger(account: Project) -> None:
    write_expand(
        account,
        'op.alter_column("account", "balance", type_=sa.BigInteger())',
    )
    account.alembic("upgrade", "head")
    command(account, "contract")
    rows = query(
        account,
        "SELECT direction, outcome, revision, error FROM alembic_ledger"
        " WHERE revision = 'b2' ORDER BY id",
    )
    assert rows == [
        ("expand", "backfilling", "b2", "retype account.balance"),
        ("backfill", "done", "b2", ANY_ROWS),
        ("expand", "expanded", "b2", f"version schema {VIEWS}"),
        ("upgrade", "applied", "b2", None),
        ("contract", "contracted", "b2", f"dropped version schema {VIEWS}"),
    ]
    output = command(account, "ledger")
    assert "  contract a1 -> b2  contracted in " in output, output


@pytest.mark.postgresql
def test_the_backfill_leaves_the_old_columns_values_as_they_were(
    account: Project,
) -> None:
    # A way back that does not give the old value again: had the triggers
    # synced the backfill's own writes back, 'abc' would now read 'xxx'.
    run(account, "UPDATE account SET note = 'abc' WHERE id = 1")
    write_expand(
        account,
        'op.alter_column("account", "note", type_=sa.Integer(),'
        ' postgresql_using="length(note)")',
        'expand_contract_down = {"account.note": "repeat(\'x\', note)"}',
    )
    account.alembic("upgrade", "head")
    assert query(account, "SELECT note FROM account WHERE id = 1") == [("abc",)]
    assert query(account, f"SELECT note FROM {VIEWS}.account WHERE id = 1") == [(3,)]
    # And the setting is the statement's own: this session does not skip.
    run(account, f"UPDATE {VIEWS}.account SET note = 2 WHERE id = 1")
    assert query(account, "SELECT note FROM account WHERE id = 1") == [("xx",)]


@pytest.mark.postgresql
def test_a_type_change_of_an_indexed_column_is_refused_before_it_expands(
    account: Project,
) -> None:
    run(account, "CREATE INDEX ix_account_balance ON account (balance)")
    path = write_expand(
        account, 'op.alter_column("account", "balance", type_=sa.BigInteger())'
    )
    before = catalog(account)
    assert account.failure("upgrade", "head") == (
        "Revision b2 is marked expand_contract = True, and column"
        " account.balance is in an index, a constraint or a foreign key, which"
        f" its new-typed copy would not have ({path}, line 12); nothing ran."
        " Fix: change the type of an indexed column with a plain revision (or"
        " drop the index first, and make it again concurrently after the"
        " contract)."
    )
    assert catalog(account) == before


@pytest.mark.postgresql
def test_contract_gives_up_waiting_for_a_busy_table_and_changes_nothing(
    account: Project,
) -> None:
    from sqlalchemy import text

    write_expand(account, 'op.alter_column("account", "name", new_column_name="n")')
    account.alembic("upgrade", "head")
    expanded = catalog(account)
    with other_session(account) as reading:
        # A request's open transaction that read the table.
        reading.execute(text("SELECT count(*) FROM account"))
        code, output = package_command(
            account,
            "contract",
            "-x",
            "table_lock_timeout=0.2",
            "-x",
            "table_lock_retries=1",
        )
        reading.rollback()
    assert code == 1
    assert output.splitlines()[-2:] == [
        "contract: waited more than 0.2 s for a lock on table 'public.account'; trying"
        " again in 0.2 s (attempt 2 of 2).",
        "FAILED: contract waited more than 0.2 s for a lock on table 'public.account',"
        " 2 time(s) (table_lock_timeout, table_lock_retries); nothing was"
        " changed. A transaction of the app holds the table: run it again when"
        " it is done, or allow more with -x table_lock_retries=N.",
    ]
    assert catalog(account) == expanded
    assert command(account, "contract").startswith("Contracted revision b2:")


@pytest.mark.postgresql
def test_the_issues_example_several_changes_to_one_table(account: Project) -> None:
    write_expand(
        account,
        """
        op.alter_column("account", "name", new_column_name="full_name")
        op.alter_column("account", "balance", type_=sa.BigInteger())
        op.add_column("account", sa.Column("score", sa.Integer(), nullable=False))
        op.drop_column("account", "note")
        """,
        'expand_contract_fill = {"account.score": "balance * 2"}',
    )
    account.alembic("upgrade", "head")
    run(account, "INSERT INTO account (name, balance, note) VALUES ('old', 5, 'n')")
    run(
        account,
        f"INSERT INTO {VIEWS}.account (full_name, balance, score)"
        " VALUES ('new', 5000000, 1)",
    )
    assert query(
        account,
        f"SELECT * FROM {VIEWS}.account WHERE id IN (1, 301, 302) ORDER BY id",
    ) == [(1, "n1", 1, 2), (301, "old", 5, 10), (302, "new", 5000000, 1)]
    assert query(
        account, "SELECT name, balance, note FROM account WHERE id > 300 ORDER BY id"
    ) == [("old", 5, "n"), ("new", 5000000, None)]
    command(account, "contract")
    assert query(account, "SELECT * FROM account WHERE id IN (1, 302) ORDER BY id") == [
        (1, "n1", 1, 2),
        (302, "new", 5000000, 1),
    ]
    assert query(
        account,
        "SELECT column_name, data_type, is_nullable FROM information_schema.columns"
        " WHERE table_name = 'account' ORDER BY ordinal_position",
    ) == [
        ("id", "integer", "NO"),
        ("full_name", "text", "NO"),
        ("balance", "bigint", "YES"),
        ("score", "integer", "NO"),
    ]


@pytest.mark.postgresql
def test_refused_in_a_flask_multidb_run(
    multiblog: Project, postgresql_databases: Callable[[], str]
) -> None:
    multiblog.env["MULTIBLOG_DATABASE_URI"] = postgresql_databases()
    multiblog.env["MULTIBLOG_USERS_URI"] = postgresql_databases()
    _simple_revisions(multiblog)
    _refusal(multiblog, "this is a flask-multidb run (one database per bind)")
