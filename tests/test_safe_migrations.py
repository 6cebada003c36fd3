"""Safe migrations: each rule refuses its unsafe revision before anything
runs, on the real servers, and lets the safe form through.
"""

from __future__ import annotations

import json
import re
import shutil
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import upgraded_to
from sqlalchemy import text
from sqlalchemy.engine import make_url

from harness import Project
from harness import ProjectFactory
from harness import other_session
from harness import query
from harness import upgrade_in_process
from harness import write_revision

#: The tables every case starts from, with rows: an existing, used table.
SETUP = """
op.execute("CREATE TABLE owner (id integer PRIMARY KEY)")
op.execute("CREATE TABLE item (id integer PRIMARY KEY, name varchar(50),"
           " owner_id integer, qty integer)")
op.execute("CREATE INDEX ix_item_qty ON item (qty)")
op.execute("INSERT INTO owner VALUES (1)")
op.execute("INSERT INTO item VALUES (1, 'a', 1, 1), (2, 'b', 1, 2)")
op.execute("ANALYZE item")
"""

#: rule: (the unsafe body, the safe body); a safe body of None means the
#: rule has no safe form here, and a reasoned skip lets it through.
POSTGRESQL_CASES = {
    "require-concurrent-index-creation": (
        'op.create_index("ix_item_name", "item", ["name"])',
        """
        with op.get_context().autocommit_block():
            op.create_index(
                "ix_item_name", "item", ["name"], postgresql_concurrently=True
            )
        """,
    ),
    "require-concurrent-index-deletion": (
        'op.drop_index("ix_item_qty", table_name="item")',
        """
        with op.get_context().autocommit_block():
            op.drop_index(
                "ix_item_qty", table_name="item", postgresql_concurrently=True
            )
        """,
    ),
    "ban-concurrent-index-creation-in-transaction": (
        'op.create_index("ix_item_name", "item", ["name"],'
        " postgresql_concurrently=True)",
        """
        with op.get_context().autocommit_block():
            op.create_index(
                "ix_item_name", "item", ["name"], postgresql_concurrently=True
            )
        """,
    ),
    "adding-not-nullable-field": (
        'op.alter_column("item", "name", nullable=False)',
        """
        op.create_check_constraint(
            "name_not_null", "item", "name IS NOT NULL", postgresql_not_valid=True
        )
        with op.get_context().autocommit_block():
            op.execute("ALTER TABLE item VALIDATE CONSTRAINT name_not_null")
        op.alter_column("item", "name", nullable=False)
        op.drop_constraint("name_not_null", "item")
        """,
    ),
    "adding-required-field": (
        'op.add_column("item", sa.Column("price", sa.Integer(), nullable=False))',
        'op.add_column("item", sa.Column("price", sa.Integer(), nullable=True))',
    ),
    "adding-field-with-default": (
        'op.add_column("item", sa.Column("token", sa.Text(),'
        ' server_default=sa.text("md5(random()::text)")))',
        'op.add_column("item", sa.Column("token", sa.Text(), server_default="none"))',
    ),
    "adding-foreign-key-constraint": (
        'op.create_foreign_key("fk_item_owner", "item", "owner", ["owner_id"], ["id"])',
        """
        op.create_foreign_key(
            "fk_item_owner", "item", "owner", ["owner_id"], ["id"],
            postgresql_not_valid=True,
        )
        with op.get_context().autocommit_block():
            op.execute("ALTER TABLE item VALIDATE CONSTRAINT fk_item_owner")
        """,
    ),
    "constraint-missing-not-valid": (
        'op.create_check_constraint("ck_qty", "item", "qty >= 0")',
        """
        op.create_check_constraint(
            "ck_qty", "item", "qty >= 0", postgresql_not_valid=True
        )
        with op.get_context().autocommit_block():
            op.execute("ALTER TABLE item VALIDATE CONSTRAINT ck_qty")
        """,
    ),
    "changing-column-type": (
        'op.alter_column("item", "qty", type_=sa.BigInteger(),'
        " existing_type=sa.Integer())",
        'op.alter_column("item", "name", type_=sa.String(100),'
        " existing_type=sa.String(50))",
    ),
    "renaming-column": (
        'op.alter_column("item", "qty", new_column_name="amount")',
        None,
    ),
    "renaming-table": ('op.rename_table("item", "article")', None),
    "ban-drop-column": ('op.drop_column("item", "qty")', None),
    "ban-drop-table": ('op.drop_table("item")', None),
    "disallowed-unique-constraint": (
        'op.create_unique_constraint("uq_item_name", "item", ["name"])',
        """
        with op.get_context().autocommit_block():
            op.create_index(
                "uq_item_name", "item", ["name"], unique=True,
                postgresql_concurrently=True,
            )
        op.execute(
            "ALTER TABLE item ADD CONSTRAINT uq_item_name UNIQUE"
            " USING INDEX uq_item_name"
        )
        """,
    ),
    "adding-json-column": (
        'op.add_column("item", sa.Column("data", sa.JSON()))',
        'op.add_column("item", sa.Column("data", postgresql.JSONB()))',
    ),
    "adding-stored-generated-column": (
        'op.add_column("item", sa.Column("double", sa.Integer(),'
        ' sa.Computed("qty * 2")))',
        'op.add_column("item", sa.Column("double", sa.Integer()))',
    ),
    "adding-auto-incrementing-column": (
        'op.add_column("item", sa.Column("seq", sa.Integer(), sa.Identity()))',
        'op.add_column("item", sa.Column("seq", sa.Integer()))',
    ),
    "adding-exclusion-constraint": (
        'op.execute("ALTER TABLE item ADD CONSTRAINT ex_qty EXCLUDE USING btree'
        ' (qty WITH =)")',
        None,
    ),
}

IMPORTS = "import sqlalchemy as sa\nfrom sqlalchemy.dialects import postgresql\n"


def write_case(project: Project, body: str, skip: str = "") -> None:
    path = write_revision(project, "s1", "s0", body)
    path.write_text(IMPORTS + skip + path.read_text())


def write_chain(project: Project, bodies: list[tuple[str, str]]) -> None:
    """Revisions s1, s2, ... after s0, one a (body, skip) each, in place of
    the s1, s2, ... written before.
    """
    versions = project.root / "migrations" / "versions"
    for old in versions.glob("s*.py"):
        if old.stem != "s0":
            old.unlink()
    # A file rewritten in the same second at the same size would be read
    # from its stale bytecode.
    shutil.rmtree(versions / "__pycache__", ignore_errors=True)
    for number, (body, skip) in enumerate(bodies, 1):
        path = write_revision(project, f"s{number}", f"s{number - 1}", body)
        path.write_text(IMPORTS + skip + path.read_text())


#: The start of a finding in a refusal: its rule and revision.
FINDING = re.compile(r"^\[([a-z-]+)\] Revision (\w+) \(", re.MULTILINE)


def findings_by_revision(message: str) -> dict[str, dict[str, str]]:
    """The findings of a refusal: revision -> rule -> its paragraph (each
    finding runs to the next one, or to the advice that ends the message;
    a rule found twice in a revision, both paragraphs).
    """
    message = message.split("\n\nWrite each the safe way")[0]
    starts = list(FINDING.finditer(message))
    findings: dict[str, dict[str, str]] = {}
    for start, end in zip(starts, [*starts[1:], None], strict=True):
        text = message[start.start() : end.start() if end else None]
        rule, revision = start.group(1, 2)
        of_revision = findings.setdefault(revision, {})
        of_revision[rule] = of_revision.get(rule, "") + text
    return findings


def skip_of(rules: dict[str, str], reason: str) -> str:
    """A migration_checks_skip of every rule in ``rules``, with ``reason``."""
    reasons = ", ".join(f"{rule!r}: {reason!r}" for rule in sorted(rules))
    return f"migration_checks_skip = {{{reasons}}}\n"


def schema(project: Project) -> list[tuple[object, ...]]:
    return query(
        project,
        "SELECT table_name, column_name, data_type FROM information_schema.columns"
        " WHERE table_schema = 'public' ORDER BY 1, 2",
    ) + query(
        project,
        "SELECT indexname FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1",
    )


def at_s0(
    project_factory: ProjectFactory, setup: str, url: str, subdir: str = "project"
) -> Project:
    """The blog project with the revision s0 of ``setup``, on ``url``."""
    project = project_factory(
        "blog", subdir, template="flask", flask_app="blogapp:create_app"
    )
    write_revision(project, "s0", None, setup)
    project.env["BLOGAPP_DATABASE_URI"] = url
    project.server_url = url
    return project


@pytest.fixture(scope="session")
def started_template(
    postgresql_templates: Callable[[str, Callable[[str], None]], str],
    template_blogs: Callable[[str], Project],
) -> str:
    """A PostgreSQL database at s0 (``alembic upgrade s0`` of SETUP), made
    once per session: each test starts from a copy.
    """
    return postgresql_templates(
        "safe-migrations-started",
        upgraded_to(template_blogs, "s0", SETUP),
    )


@pytest.fixture
def started(
    project_factory: ProjectFactory,
    postgresql_clones: Callable[[str], str],
    started_template: str,
) -> Project:
    """The PostgreSQL project at s0: owner and item exist and have rows
    (a copy of :func:`started_template`).
    """
    return at_s0(project_factory, SETUP, postgresql_clones(started_template))


#: The runs proving every rule of POSTGRESQL_CASES. The unsafe revisions of
#: a chain, one a rule, are refused in one run (the checks judge every
#: pending revision before any runs, and list every finding); then each
#: group of the chain's safe forms runs in one run, on a fresh copy of s0:
#: the groups' forms conflict (the same index made twice, a column renamed
#: and dropped), and the table renamed comes last. ban-drop-table is a chain
#: of its own: a table dropped later in a run exempts every earlier change
#: on it from the rules, which would prove nothing of the others. (No other
#: case creates or drops a table, and each type change names its
#: existing_type, so the checks judge a case in a chain as they do alone.)
POSTGRESQL_CHAINS = {
    "every-rule-but-ban-drop-table": [
        [
            "require-concurrent-index-creation",
            "require-concurrent-index-deletion",
            "adding-not-nullable-field",
            "adding-required-field",
            "adding-field-with-default",
            "adding-foreign-key-constraint",
            "constraint-missing-not-valid",
            "changing-column-type",
            "disallowed-unique-constraint",
            "adding-json-column",
            "adding-stored-generated-column",
            "adding-auto-incrementing-column",
            "adding-exclusion-constraint",
            "renaming-column",
            "renaming-table",
        ],
        ["ban-concurrent-index-creation-in-transaction", "ban-drop-column"],
    ],
    "ban-drop-table": [["ban-drop-table"]],
}


def test_the_chains_hold_every_rule_once() -> None:
    for chains, cases in (
        (POSTGRESQL_CHAINS, POSTGRESQL_CASES),
        (MARIADB_CHAINS, MARIADB_CASES),
    ):
        rules = [rule for chain in chains.values() for g in chain for rule in g]
        assert sorted(rules) == sorted(cases)


def refuse_chain(
    project: Project, cases: dict[str, tuple[str, str | None]], rules: list[str]
) -> dict[str, dict[str, str]]:
    """Write the unsafe revisions of ``rules`` as s1, s2, ... and run
    ``upgrade head``: refused, nothing run, alembic_version still s0. The
    findings of each rule's revision, by rule.
    """
    write_chain(project, [(cases[rule][0], "") for rule in rules])
    result = project.alembic("upgrade", "head", ok=False)
    message = result.stdout
    assert message.startswith("FAILED: ")
    assert "so nothing was run" in message
    assert "Traceback" not in result.stderr
    assert "Running upgrade s0 -> " not in result.stderr
    assert query(project, "SELECT version_num FROM alembic_version") == [("s0",)]
    findings = findings_by_revision(message)
    for number, rule in enumerate(rules, 1):
        assert rule in findings.get(f"s{number}", {}), (rule, message)
    return {rule: findings[f"s{number}"] for number, rule in enumerate(rules, 1)}


def run_safe_forms(
    project: Project,
    cases: dict[str, tuple[str, str | None]],
    group: list[str],
    findings: dict[str, dict[str, str]],
    reason: str,
) -> None:
    """Write the safe forms of ``group`` as s1, s2, ... (a rule without one:
    its unsafe revision skipping every rule it broke, each with ``reason``),
    and run them all in one ``upgrade head``.
    """
    bodies = []
    for rule in group:
        unsafe, safe = cases[rule]
        if safe is None:
            bodies.append((unsafe, skip_of(findings[rule], reason)))
        else:
            bodies.append((safe, ""))
    write_chain(project, bodies)
    project.alembic("upgrade", "head")
    versions = query(project, "SELECT version_num FROM alembic_version")
    assert versions == [(f"s{len(group)}",)]


@pytest.mark.postgresql
@pytest.mark.parametrize("chain", sorted(POSTGRESQL_CHAINS))
def test_each_rule_refuses_its_unsafe_revision_and_passes_the_safe_one(
    started: Project,
    postgresql_clones: Callable[[str], str],
    started_template: str,
    chain: str,
) -> None:
    """Every rule of the chain is refused by its own finding on its own
    revision, nothing runs, and its safe form (or its unsafe revision with
    every rule it broke skipped, with a reason) runs.
    """
    groups = POSTGRESQL_CHAINS[chain]
    rules = [rule for group in groups for rule in group]
    before = schema(started)
    findings = refuse_chain(started, POSTGRESQL_CASES, rules)
    assert schema(started) == before
    for rule in rules:
        # Its own finding sizes the table.
        finding = findings[rule][rule]
        assert "on table 'item', about 2 rows" in finding or rule.startswith(
            "ban-conc"
        ), finding

    for number, group in enumerate(groups):
        if number:
            url = postgresql_clones(started_template)
            started.env["BLOGAPP_DATABASE_URI"] = url
            started.server_url = url
        run_safe_forms(
            started,
            POSTGRESQL_CASES,
            group,
            findings,
            "the app no longer uses it; checked, 2026-12-01",
        )


#: An index asked for two ways (unsafe), and the index that must result.
ADVICE_CASES = {
    "ix_item_name": (
        'op.create_index("ix_item_name", "item", ["name", "qty"], unique=True,'
        ' postgresql_using="btree")',
        "CREATE UNIQUE INDEX ix_item_name ON public.item USING btree (name, qty)",
    ),
    "ix_item_code": (
        'op.add_column("item", sa.Column("code", sa.Text(), index=True))',
        "CREATE INDEX ix_item_code ON public.item USING btree (code)",
    ),
}


@pytest.mark.postgresql
def test_the_advice_pasted_as_it_is_builds_the_same_index(started: Project) -> None:
    """The safe form a finding prints keeps the revision's columns and
    keywords (a unique index must stay unique): pasted into the revision in
    place of the unsafe call, it runs, and the index is what was asked for.
    Both cases are revisions of one run: one refusal prints both findings.
    """
    cases = list(ADVICE_CASES.values())
    write_chain(started, [(unsafe, "") for unsafe, _ in cases])
    message = started.alembic("upgrade", "head", ok=False).stdout
    findings = findings_by_revision(message)
    pasted = []
    for number, (unsafe, _) in enumerate(cases, 1):
        finding = findings[f"s{number}"]["require-concurrent-index-creation"]
        advice = [
            line[4:]
            for line in finding.splitlines()[1:]
            if line.startswith("    ") and "[...]" not in line
        ]
        assert len(advice) == 3, finding
        if "add_column" in unsafe:
            # The column first, then the index the finding is about.
            advice = [unsafe.replace(", index=True", ""), *advice]
        pasted.append(("\n".join(advice), ""))
    write_chain(started, pasted)
    started.alembic("upgrade", "head")
    for name, (_, expected) in ADVICE_CASES.items():
        definitions = query(
            started, f"SELECT indexdef FROM pg_indexes WHERE indexname = '{name}'"
        )
        assert definitions == [(expected,)]


@pytest.mark.postgresql
def test_raw_sql_is_held_to_the_same_rules(started: Project) -> None:
    write_case(started, 'op.execute("CREATE INDEX ix_item_name ON item (name)")')
    message = started.alembic("upgrade", "head", ok=False).stdout
    assert "[require-concurrent-index-creation] Revision s1 (" in message
    write_case(
        started,
        """
        with op.get_context().autocommit_block():
            op.execute("CREATE INDEX CONCURRENTLY ix_item_name ON item (name)")
        """,
    )
    started.alembic("upgrade", "head")


@pytest.mark.postgresql
def test_a_table_created_in_the_same_run_is_exempt(pg: Project) -> None:
    write_revision(
        pg,
        "s0",
        None,
        """
        op.create_table("fresh", sa.Column("id", sa.Integer(), primary_key=True),
                        sa.Column("name", sa.String(20)))
        """,
    )
    write_revision(pg, "s1", "s0", 'op.create_index("ix_fresh", "fresh", ["name"])')
    for name in ("s0", "s1"):
        path = pg.root / "migrations" / "versions" / f"{name}.py"
        path.write_text(IMPORTS + path.read_text())
    pg.alembic("upgrade", "head")
    assert query(pg, "SELECT version_num FROM alembic_version") == [("s1",)]


@pytest.mark.postgresql
@pytest.mark.parametrize(
    ("skip", "message"),
    [
        (
            "migration_checks_skip = {'require-concurrent-index-creation': ' '}\n",
            "migration_checks_skip in revision s1 ({path}) skips"
            " 'require-concurrent-index-creation' without a reason.",
        ),
        (
            "migration_checks_skip = ['require-concurrent-index-creation']\n",
            "migration_checks_skip in revision s1 ({path}) is a list; write a dict"
            " of rule ids and reasons,",
        ),
        (
            "migration_checks_skip = {'no-such-rule': 'because'}\n",
            "migration_checks_skip in revision s1 ({path}) names 'no-such-rule',"
            " which is no rule.",
        ),
    ],
)
def test_a_skip_needs_a_reason_and_a_real_rule(
    started: Project, skip: str, message: str
) -> None:
    write_case(started, 'op.create_index("ix_item_name", "item", ["name"])', skip)
    path = started.root / "migrations" / "versions" / "s1.py"
    assert started.failure("upgrade", "head").startswith(message.format(path=path))


@pytest.mark.postgresql
def test_warn_logs_and_runs_off_runs_quietly(started: Project) -> None:
    write_case(started, 'op.create_index("ix_item_name", "item", ["name"])')
    result = started.alembic("-x", "migration_checks=warn", "upgrade", "head")
    assert "[require-concurrent-index-creation] Revision s1 (" in result.stderr
    path = write_revision(
        started, "s2", "s1", 'op.create_index("ix_item_both", "item", ["name", "qty"])'
    )
    result = started.alembic("-x", "migration_checks=off", "upgrade", "head")
    assert "require-concurrent-index-creation" not in result.stderr
    assert path.is_file()


@pytest.mark.postgresql
def test_a_table_smaller_than_min_rows_is_logged_not_refused(
    started: Project,
) -> None:
    write_case(started, 'op.create_index("ix_item_name", "item", ["name"])')
    result = started.alembic("-x", "migration_checks_min_rows=1000", "upgrade", "head")
    assert "[require-concurrent-index-creation] Revision s1 (" in result.stderr
    assert query(started, "SELECT version_num FROM alembic_version") == [("s1",)]


def test_a_bad_mode_is_refused(blog: Project) -> None:
    assert blog.failure("-x", "migration_checks=maybe", "upgrade", "head") == (
        "migration_checks = 'maybe' (from -x migration_checks=...) is not one of"
        " error, warn, off. Set migration_checks = error (the default: refuse a"
        " revision that would block the app), warn (log it and run) or off."
    )


@pytest.mark.mariadb
def test_a_type_change_that_copies_the_table_on_mariadb(
    maria_started: Project,
) -> None:
    maria = maria_started
    write_case(
        maria,
        'op.alter_column("item", "qty", type_=sa.BigInteger(),'
        " existing_type=sa.Integer())",
    )
    message = maria.alembic("upgrade", "head", ok=False).stdout
    assert "[changing-column-type] Revision s1 (" in message
    assert "ALGORITHM=COPY" in message
    maria.alembic("-x", "migration_checks=warn", "upgrade", "head")


@pytest.fixture(scope="session")
def autogenerated_template(
    postgresql_templates: Callable[[str, Callable[[str], None]], str],
    template_blogs: Callable[[str], Project],
) -> tuple[str, Path]:
    """A PostgreSQL database at the blog's first autogenerated revision
    (``revision --autogenerate``, then applied in process), and that
    revision's file, made once per session.
    """
    revisions: list[Path] = []

    def build(url: str) -> None:
        project = template_blogs(url)
        project.alembic("revision", "--autogenerate", "-m", "init")
        project.server_url = url
        upgrade_in_process(project, "head")
        revisions.extend(project.revision_files())

    name = postgresql_templates("safe-migrations-autogenerated", build)
    [revision] = revisions
    return name, revision


@pytest.mark.postgresql
@pytest.mark.parametrize("safe", [True, False])
def test_autogenerate_writes_the_safe_form(
    blog: Project,
    postgresql_clones: Callable[[str], str],
    autogenerated_template: tuple[str, Path],
    safe: bool,
) -> None:
    """An index added to an existing table: built concurrently in an
    autocommit block (and dropped so on the way down), so that the fresh
    revision passes the checks; Alembic's plain form without the setting.
    """
    setting = ["-x", f"migration_checks_autogenerate={str(safe).lower()}"]
    # The start: the first autogenerated revision, applied (a copy).
    template, init = autogenerated_template
    shutil.copy(init, blog.root / "migrations" / "versions")
    pg = blog
    pg.server_url = pg.env["BLOGAPP_DATABASE_URI"] = postgresql_clones(template)
    models = pg.root / "blogapp" / "models.py"
    models.write_text(
        models.read_text().replace(
            "name = db.Column(db.String(50), nullable=False)",
            "name = db.Column(db.String(50), nullable=False, index=True)",
        )
    )
    pg.alembic(*setting, "revision", "--autogenerate", "-m", "index")
    [revision] = [p for p in pg.revision_files() if "index" in p.name]
    source = revision.read_text()
    if not safe:
        assert "autocommit_block" not in source
        message = pg.alembic("upgrade", "head", ok=False).stdout
        assert "[require-concurrent-index-creation]" in message
        return
    assert (
        "    with op.get_context().autocommit_block():\n"
        "        op.drop_index(op.f('ix_user_name'), table_name='user',"
        " postgresql_concurrently=True, if_exists=True)\n"
        "        op.create_index(op.f('ix_user_name'), 'user', ['name'],"
        " unique=False, postgresql_concurrently=True)\n" in source
    )
    assert (
        "        op.drop_index(op.f('ix_user_name'), table_name='user',"
        " postgresql_concurrently=True, if_exists=True)\n"
        in source.split("def downgrade")[1]
    )
    pg.alembic("upgrade", "head")
    assert query(
        pg, "SELECT indexname FROM pg_indexes WHERE indexname = 'ix_user_name'"
    ) == [("ix_user_name",)]
    pg.alembic("downgrade", "-1")
    assert (
        query(pg, "SELECT indexname FROM pg_indexes WHERE indexname = 'ix_user_name'")
        == []
    )


#: The rules MySQL/MariaDB share, with their unsafe and safe bodies.
MARIADB_CASES = {
    "adding-not-nullable-field": (
        'op.alter_column("item", "name", nullable=False, existing_type=sa.String(50))',
        None,
    ),
    "adding-required-field": (
        'op.add_column("item", sa.Column("price", sa.Integer(), nullable=False))',
        'op.add_column("item", sa.Column("price", sa.Integer(), nullable=True))',
    ),
    "adding-foreign-key-constraint": (
        'op.create_foreign_key("fk_item_owner", "item", "owner", ["owner_id"], ["id"])',
        """
        op.execute("SET SESSION foreign_key_checks = 0")
        op.create_foreign_key(
            "fk_item_owner", "item", "owner", ["owner_id"], ["id"]
        )
        op.execute("SET SESSION foreign_key_checks = 1")
        """,
    ),
    "renaming-column": (
        'op.alter_column("item", "qty", new_column_name="amount",'
        " existing_type=sa.Integer())",
        None,
    ),
    "renaming-table": ('op.rename_table("item", "article")', None),
    "ban-drop-column": ('op.drop_column("item", "qty")', None),
    "ban-drop-table": ('op.drop_table("item")', None),
    # STORED copies the table (ALGORITHM=COPY); VIRTUAL is added instantly.
    "adding-stored-generated-column": (
        'op.add_column("item", sa.Column("double", sa.Integer(),'
        ' sa.Computed("qty * 2", persisted=True)))',
        'op.add_column("item", sa.Column("double", sa.Integer(),'
        ' sa.Computed("qty * 2", persisted=False)))',
    ),
}


#: The tables the MariaDB cases start from, with rows.
MARIADB_SETUP = """
op.execute("CREATE TABLE owner (id int PRIMARY KEY)")
op.execute("CREATE TABLE item (id int PRIMARY KEY, name varchar(50),"
           " owner_id int, qty int)")
op.execute("INSERT INTO owner VALUES (1)")
op.execute("INSERT INTO item VALUES (1, 'a', 1, 1), (2, 'b', 1, 2)")
"""

#: The runs proving every rule of MARIADB_CASES, as POSTGRESQL_CHAINS: the
#: qty column is renamed in one group and dropped in another (and the
#: VIRTUAL column of the first reads it).
MARIADB_CHAINS = {
    "every-rule-but-ban-drop-table": [
        [
            "adding-not-nullable-field",
            "adding-required-field",
            "adding-foreign-key-constraint",
            "adding-stored-generated-column",
            "renaming-table",
        ],
        ["renaming-column"],
        ["ban-drop-column"],
    ],
    "ban-drop-table": [["ban-drop-table"]],
}


@pytest.fixture(scope="session")
def maria_template(
    mariadb_templates: Callable[[str, Callable[[str], None]], str],
    template_blogs: Callable[[str], Project],
) -> str:
    """A MariaDB database at s0 (``alembic upgrade s0`` of MARIADB_SETUP),
    made once per session: each test starts from a copy.
    """
    return mariadb_templates(
        "safe-migrations-maria-started",
        upgraded_to(template_blogs, "s0", MARIADB_SETUP),
    )


@pytest.fixture
def maria_started(
    project_factory: ProjectFactory,
    mariadb_clones: Callable[[str], str],
    maria_template: str,
) -> Project:
    """The MariaDB project at s0: owner and item exist and have rows (a
    copy of :func:`maria_template`).
    """
    return at_s0(project_factory, MARIADB_SETUP, mariadb_clones(maria_template))


@pytest.mark.mariadb
@pytest.mark.parametrize("chain", sorted(MARIADB_CHAINS))
def test_each_mysql_rule_on_mariadb(
    mariadb_clones: Callable[[str], str],
    maria_started: Project,
    maria_template: str,
    chain: str,
) -> None:
    """As on PostgreSQL, for the rules MySQL/MariaDB share."""
    groups = MARIADB_CHAINS[chain]
    rules = [rule for group in groups for rule in group]
    maria = maria_started
    findings = refuse_chain(maria, MARIADB_CASES, rules)
    for number, group in enumerate(groups):
        if number:
            url = mariadb_clones(maria_template)
            maria.env["BLOGAPP_DATABASE_URI"] = url
            maria.server_url = url
        run_safe_forms(
            maria, MARIADB_CASES, group, findings, "checked with the DBA, 2026-12-01"
        )


def test_a_bad_autogenerate_setting_is_refused(blog: Project) -> None:
    assert blog.failure("-x", "migration_checks_autogenerate=perhaps", "current") == (
        "migration_checks_autogenerate = 'perhaps' (from -x"
        " migration_checks_autogenerate=...) is not a boolean. Set"
        " migration_checks_autogenerate = true (the default: autogenerate writes"
        " the safe forms on PostgreSQL) or false (Alembic's plain rendering)."
    )


@pytest.mark.parametrize("rows", ["-1"])
def test_a_bad_min_rows_is_refused(blog: Project, rows: str) -> None:
    """(The other values: tests/unit/test_setting_messages.py.)"""
    assert blog.failure("-x", f"migration_checks_min_rows={rows}", "current") == (
        f"migration_checks_min_rows = {rows!r} (from -x"
        " migration_checks_min_rows=...) is not a whole number, 0 or more. Set"
        " migration_checks_min_rows to the fewest rows a table must have for a"
        " finding to stop the run, for example migration_checks_min_rows = 10000."
    )


def write_with_downgrade(
    project: Project, revision: str, down: str | None, upgrade: str, downgrade: str
) -> None:
    """A revision with ``upgrade`` and ``downgrade`` bodies, as autogenerate
    writes them (sa and postgresql imported).
    """
    path = write_revision(project, revision, down, upgrade)
    body = textwrap.indent(textwrap.dedent(downgrade).strip(), "    ")
    source = path.read_text().replace("def downgrade():\n    pass\n", "")
    path.write_text(IMPORTS + source + f"def downgrade():\n{body}\n")


#: A table and its index, made and undone the way autogenerate writes it.
FRESH_TABLE = (
    """
    op.create_table("fresh", sa.Column("id", sa.Integer(), primary_key=True),
                    sa.Column("name", sa.String(20)), sa.Column("qty", sa.Integer()))
    op.create_index(op.f("ix_fresh_name"), "fresh", ["name"], unique=False)
    op.execute("INSERT INTO fresh SELECT g, 'n', g FROM generate_series(1, 100) g")
    op.execute("ANALYZE fresh")
    """,
    """
    op.drop_index(op.f("ix_fresh_name"), table_name="fresh")
    op.drop_table("fresh")
    """,
)


@pytest.mark.postgresql
def test_a_downgrade_drops_the_indexes_of_a_table_it_drops(pg: Project) -> None:
    """Issue 23: every autogenerated downgrade that drops a table drops its
    indexes first, which were refused. A table the run drops later (in the
    same revision or a later one) is exempt; an index dropped from a table
    that stays is not.
    """
    write_with_downgrade(pg, "s1", None, *FRESH_TABLE)
    write_with_downgrade(
        pg,
        "s2",
        "s1",
        'op.create_index("ix_fresh_qty", "fresh", ["qty"])',
        'op.drop_index("ix_fresh_qty", table_name="fresh")',
    )
    upgrade_in_process(pg, "head")
    message = pg.alembic("downgrade", "s1", ok=False).stdout
    assert "[require-concurrent-index-deletion] Revision s2 (" in message
    assert "on table 'fresh', about 100 rows" in message

    result = pg.alembic("downgrade", "base")
    assert "Running downgrade s1 -> " in result.stderr
    assert query(pg, "SELECT to_regclass('fresh') IS NULL") == [(True,)]


@pytest.mark.postgresql
def test_drop_index_without_its_table_is_judged_on_the_index_table(
    pg: Project, postgresql_databases: Callable[[], str]
) -> None:
    """``op.drop_index("ix")`` names no table: it is the table of the index
    the run created (new: exempt, on an empty database), or the one the
    database's catalogue says (an existing table: refused, with the table
    named in the finding and its fix).
    """
    write_with_downgrade(pg, "s1", None, *FRESH_TABLE)
    write_with_downgrade(pg, "s2", "s1", 'op.drop_index("ix_fresh_name")', "pass")
    upgrade_in_process(pg, "s1")
    message = pg.alembic("upgrade", "head", ok=False).stdout
    assert (
        "[require-concurrent-index-deletion] Revision s2 (" in message
        and "on table 'fresh', about 100 rows" in message
    ), message
    assert "op.drop_index('ix_fresh_name', table_name='fresh'," in message

    empty = postgresql_databases()
    pg.env["BLOGAPP_DATABASE_URI"] = empty
    pg.server_url = empty
    pg.alembic("upgrade", "head")
    assert query(pg, "SELECT version_num FROM alembic_version") == [("s2",)]


@pytest.mark.postgresql
def test_the_facts_of_a_schema_qualified_table_are_its_own(started: Project) -> None:
    """``schema="other"``: the rows of other.item (5,000), not those of the
    default schema's item (2), which migration_checks_min_rows would wave
    through. The types of a class given as existing_type read as SQL.
    """
    write_revision(
        started,
        "s1",
        "s0",
        """
        op.execute("CREATE SCHEMA other")
        op.execute("CREATE TABLE other.item (id integer PRIMARY KEY, qty integer)")
        op.execute("INSERT INTO other.item SELECT g, g FROM generate_series(1, 5000) g")
        op.execute("ANALYZE other.item")
        """,
    )
    upgrade_in_process(started, "s1")
    path = write_revision(
        started,
        "s2",
        "s1",
        'op.alter_column("item", "qty", type_=sa.BigInteger(),'
        ' existing_type=sa.Integer, schema="other")',
    )
    path.write_text(IMPORTS + path.read_text())
    message = started.alembic(
        "-x", "migration_checks_min_rows=1000", "upgrade", "head", ok=False
    ).stdout
    assert (
        "[changing-column-type] Revision s2 (" in message
        and "on table 'other.item', about 5,000 rows: Changing the type of 'qty'"
        " from INTEGER to BIGINT rewrites the table"
        in message
    ), message
    assert query(started, "SELECT version_num FROM alembic_version") == [("s1",)]


@pytest.mark.postgresql
def test_a_required_field_is_judged_on_the_rows_of_its_own_schema(
    started: Project,
) -> None:
    """other.box has rows; the default schema's box has none: a NOT NULL
    column without a default added to other.box is refused before it runs.
    """
    write_revision(
        started,
        "s1",
        "s0",
        """
        op.execute("CREATE SCHEMA other")
        op.execute("CREATE TABLE other.box (id integer)")
        op.execute("INSERT INTO other.box SELECT g FROM generate_series(1, 10) g")
        op.execute("CREATE TABLE box (id integer)")
        op.execute("ANALYZE other.box")
        op.execute("ANALYZE box")
        """,
    )
    upgrade_in_process(started, "s1")
    path = write_revision(
        started,
        "s2",
        "s1",
        'op.add_column("box", sa.Column("label", sa.Text(), nullable=False),'
        ' schema="other")',
    )
    path.write_text(IMPORTS + path.read_text())
    message = started.alembic("upgrade", "head", ok=False).stdout
    assert "[adding-required-field] Revision s2 (" in message, message
    assert "on table 'other.box'" in message, message


@pytest.mark.postgresql
def test_a_type_given_as_a_class_reads_as_sql(started: Project) -> None:
    write_case(
        started,
        'op.alter_column("item", "name", type_=sa.String(20), existing_type=sa.String)',
    )
    message = started.alembic("upgrade", "head", ok=False).stdout
    assert "Changing the type of 'name' from VARCHAR to VARCHAR(20) rewrites" in (
        message
    ), message
    assert "<class" not in message


@pytest.mark.mariadb
def test_a_stored_generated_column_is_refused_with_the_mysql_advice(
    maria_started: Project,
) -> None:
    maria = maria_started  # item has qty 1 and 2
    write_case(maria, MARIADB_CASES["adding-stored-generated-column"][0])
    message = maria.alembic("upgrade", "head", ok=False).stdout
    assert (
        "[adding-stored-generated-column] Revision s1 (" in message
        and "Adding a STORED generated column copies the table on MySQL/MariaDB"
        " (ALGORITHM=COPY) under a lock that blocks writes for the whole copy."
        " Instead: add it VIRTUAL (sa.Computed(..., persisted=False))"
        in message
    ), message
    # Left to MySQL's default (VIRTUAL), it is added in place: no finding.
    write_case(
        maria,
        'op.add_column("item", sa.Column("double", sa.Integer(),'
        ' sa.Computed("qty * 2")))',
    )
    maria.alembic("upgrade", "head")
    assert query(maria, "SELECT `double` FROM item ORDER BY id") == [(2,), (4,)]


@pytest.mark.mariadb
def test_the_facts_of_a_table_of_another_database_are_its_own(
    maria: Project, mariadb_databases: Callable[[], str]
) -> None:
    """``schema="other"`` is another database on MariaDB: its item's rows
    (5,000), not those of the current database's item (2).
    """
    other = make_url(mariadb_databases()).database
    write_revision(
        maria,
        "s0",
        None,
        f"""
        op.execute("CREATE TABLE item (id int PRIMARY KEY, qty int)")
        op.execute("INSERT INTO item VALUES (1, 1), (2, 2)")
        op.execute("CREATE TABLE {other}.item (id int PRIMARY KEY, qty int)")
        op.execute("INSERT INTO {other}.item SELECT seq, seq FROM seq_1_to_5000")
        op.execute("ANALYZE TABLE item, {other}.item")
        """,
    )
    upgrade_in_process(maria, "s0")
    write_case(
        maria,
        'op.alter_column("item", "qty", type_=sa.BigInteger(),'
        f' existing_type=sa.Integer, schema="{other}")',
    )
    message = maria.alembic(
        "-x", "migration_checks_min_rows=1000", "upgrade", "head", ok=False
    ).stdout
    found = re.search(rf"on table '{other}\.item', about ([\d,]+) rows", message)
    assert found is not None, message
    assert int(found.group(1).replace(",", "")) >= 1000
    assert "from INTEGER to BIGINT copies the table" in message


@pytest.mark.postgresql
def test_an_autogenerated_downgrade_that_drops_tables_runs(pg: Project) -> None:
    """The issue's history: autogenerate writes each table's indexes
    dropped before the table in downgrade(); with rows in the tables, the
    downgrade runs.
    """
    models = pg.root / "blogapp" / "models.py"
    models.write_text(
        models.read_text().replace(
            "name = db.Column(db.String(50), nullable=False)",
            "name = db.Column(db.String(50), nullable=False, index=True)",
        )
    )
    pg.alembic("revision", "--autogenerate", "-m", "init")
    [revision] = pg.revision_files()
    downgrade = revision.read_text().split("def downgrade")[1]
    assert downgrade.index("op.drop_index(") < downgrade.index("op.drop_table('user')")
    upgrade_in_process(pg, "head")
    with other_session(pg) as session:
        session.execute(text("INSERT INTO \"user\" (name) VALUES ('a'), ('b')"))
        session.execute(text('ANALYZE "user"'))
        session.commit()
    result = pg.alembic("downgrade", "base")
    assert "require-concurrent-index-deletion" not in pg.output(result)
    assert query(pg, "SELECT to_regclass('\"user\"') IS NULL") == [(True,)]


@pytest.mark.postgresql
def test_a_revision_slow_to_record_outlives_idle_session_timeout(pg: Project) -> None:
    """PostgreSQL ends sessions idle (outside a transaction) for 2 s; the
    checks record a revision that spends 3 s in upgrade() first. The run
    connects again and applies it (in its transaction, which that timeout
    does not end).
    """
    pg.env["BLOGAPP_CONNECT_ARGS"] = json.dumps(
        {"options": "-c idle_session_timeout=2000"}
    )
    path = write_revision(
        pg,
        "s1",
        None,
        """
        time.sleep(3)
        op.execute("CREATE TABLE slow (id integer PRIMARY KEY)")
        """,
    )
    path.write_text("import time\n\n" + path.read_text())
    result = pg.alembic("upgrade", "head")
    assert (
        "The server closed the migration connection while the revisions were"
        " checked (" in result.stderr
    )
    assert "idle-session timeout" in result.stderr
    assert query(pg, "SELECT version_num FROM alembic_version") == [("s1",)]


def write_next(project: Project, revision: str, down: str | None, body: str) -> None:
    path = write_revision(project, revision, down, body)
    path.write_text(IMPORTS + path.read_text())


@pytest.mark.postgresql
def test_min_rows_exempts_a_small_table_never_analysed(started: Project) -> None:
    """A table created and filled in one run has reltuples = -1 (never
    analysed: autovacuum waits for 50 rows). Its 3 rows are counted, so
    migration_checks_min_rows waves its index through; a never-analysed
    table of 150,000 rows is counted to 100,000 and estimated from its
    pages beyond, and refused.
    """
    write_next(
        started,
        "s1",
        "s0",
        """
        op.create_table("fresh", sa.Column("id", sa.Integer(), primary_key=True),
                        sa.Column("name", sa.String(20)))
        op.execute("INSERT INTO fresh VALUES (1, 'a'), (2, 'b'), (3, 'c')")
        op.create_table("bulk", sa.Column("id", sa.Integer(), primary_key=True),
                        sa.Column("name", sa.String(20)))
        op.execute("INSERT INTO bulk SELECT g, 'n' FROM generate_series(1, 150000) g")
        """,
    )
    upgrade_in_process(started, "s1")
    write_next(started, "s2", "s1", 'op.create_index("ix_fresh", "fresh", ["name"])')
    result = started.alembic("-x", "migration_checks_min_rows=1000", "upgrade", "+1")
    assert (
        "[require-concurrent-index-creation] Revision s2 (" in result.stderr
        and "on table 'fresh', about 3 rows:" in result.stderr
    ), result.stderr
    assert query(started, "SELECT version_num FROM alembic_version") == [("s2",)]

    write_next(started, "s3", "s2", 'op.create_index("ix_bulk", "bulk", ["name"])')
    message = started.alembic(
        "-x", "migration_checks_min_rows=1000", "upgrade", "+1", ok=False
    ).stdout
    found = re.search(r"on table 'bulk', about ([\d,]+) rows", message)
    assert found is not None, message
    assert int(found.group(1).replace(",", "")) > 100_000
    assert query(started, "SELECT version_num FROM alembic_version") == [("s2",)]


@pytest.mark.postgresql
def test_a_table_whose_size_is_unknown_says_so(started: Project) -> None:
    """A partitioned table is never analysed by autovacuum: its size is
    unknown, the finding says how to learn it, and min_rows does not wave
    it through; after ANALYZE its estimate counts.
    """
    write_next(
        started,
        "s1",
        "s0",
        """
        op.execute("CREATE TABLE log (id integer, at date) PARTITION BY RANGE (at)")
        op.execute("CREATE TABLE log_2026 PARTITION OF log"
                   " FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')")
        op.execute("INSERT INTO log VALUES (1, '2026-05-01'), (2, '2026-06-01')")
        """,
    )
    upgrade_in_process(started, "s1")
    write_next(
        started,
        "s2",
        "s1",
        'op.add_column("log", sa.Column("level", sa.Integer(), nullable=False))',
    )
    message = started.alembic(
        "-x", "migration_checks_min_rows=1000", "upgrade", "+1", ok=False
    ).stdout
    assert (
        "[adding-required-field] Revision s2 (" in message
        and "on table 'log', size unknown (never analysed: run ANALYZE log):" in message
    ), message
    with other_session(started) as session:
        session.execute(text("ANALYZE log"))
        session.commit()
    message = started.alembic("upgrade", "+1", ok=False).stdout
    assert "on table 'log', about 2 rows:" in message, message


@pytest.mark.postgresql
def test_a_varchar_widening_without_existing_type_is_read_from_the_database(
    started: Project,
) -> None:
    """``alter_column(type_=sa.String(256))`` on a varchar(128) column: the
    run reads the column's type from the database, so a widening (no
    rewrite on PostgreSQL), in Python or raw SQL, runs, and a narrowing is
    refused naming both types.
    """
    write_next(
        started,
        "s1",
        "s0",
        """
        op.execute("CREATE TABLE project (id integer PRIMARY KEY,"
                   " password varchar(128))")
        op.execute("INSERT INTO project VALUES (1, 'x'), (2, 'y')")
        op.execute("ANALYZE project")
        """,
    )
    upgrade_in_process(started, "s1")
    write_next(
        started,
        "s2",
        "s1",
        'op.alter_column("project", "password", type_=sa.String(length=256))',
    )
    write_next(
        started,
        "s3",
        "s2",
        'op.execute("ALTER TABLE project ALTER COLUMN password TYPE varchar(300)")',
    )
    write_next(
        started,
        "s4",
        "s3",
        'op.alter_column("project", "password", type_=sa.String(length=64))',
    )
    started.alembic("upgrade", "s2")
    started.alembic("upgrade", "s3")
    assert query(
        started,
        "SELECT character_maximum_length FROM information_schema.columns"
        " WHERE table_name = 'project' AND column_name = 'password'",
    ) == [(300,)]
    message = started.alembic("upgrade", "head", ok=False).stdout
    assert (
        "[changing-column-type] Revision s4 (" in message
        and "Changing the type of 'password' from VARCHAR(300) to VARCHAR(64)"
        " rewrites the table"
        in message
    ), message
    assert "existing_type" not in message


@pytest.mark.postgresql
def test_a_type_change_after_another_in_the_run_starts_from_that_one(
    started: Project,
) -> None:
    """The database's type is the one before the run: a second change of
    the same column in the run starts from the type the first gave it.
    """
    write_next(
        started,
        "s1",
        "s0",
        'op.alter_column("item", "name", type_=sa.String(80),'
        " existing_type=sa.String(50))",
    )
    write_next(
        started, "s2", "s1", 'op.alter_column("item", "name", type_=sa.String(100))'
    )
    write_next(
        started, "s3", "s2", 'op.alter_column("item", "name", type_=sa.String(90))'
    )
    message = started.alembic("upgrade", "head", ok=False).stdout
    assert "[changing-column-type] Revision s2 (" not in message
    assert (
        "[changing-column-type] Revision s3 (" in message
        and "Changing the type of 'name' from VARCHAR(100) to VARCHAR(90)" in message
    ), message
    assert query(started, "SELECT version_num FROM alembic_version") == [("s0",)]


@pytest.mark.mariadb
def test_a_varchar_widening_on_mariadb_within_its_length_bytes(
    maria: Project,
) -> None:
    """MariaDB widens a VARCHAR in place while its length stays within
    the same length-byte class (up to 255 bytes, or above): utf8mb4 is 4
    bytes a character, so 60 -> 63 is in place and 60 -> 100 is a copy.
    The type before is read from the database.
    """
    write_revision(
        maria,
        "s0",
        None,
        """
        op.execute("CREATE TABLE project (id int PRIMARY KEY, password varchar(60),"
                   " note varchar(100)) DEFAULT CHARSET=utf8mb4")
        op.execute("INSERT INTO project VALUES (1, 'a', 'n'), (2, 'b', 'n')")
        """,
    )
    upgrade_in_process(maria, "s0")
    write_next(
        maria,
        "s1",
        "s0",
        'op.alter_column("project", "password", type_=sa.String(63));'
        ' op.alter_column("project", "note", type_=sa.String(300))',
    )
    maria.alembic("upgrade", "s1")
    write_next(
        maria,
        "s2",
        "s1",
        'op.alter_column("project", "password", type_=sa.String(100))',
    )
    message = maria.alembic("upgrade", "head", ok=False).stdout
    assert (
        "[changing-column-type] Revision s2 (" in message
        and "Changing the type of 'password' from VARCHAR(63) to VARCHAR(100)"
        " copies the table"
        in message
    ), message


@pytest.mark.postgresql
def test_a_never_analysed_table_locked_meanwhile_is_of_unknown_size(
    started: Project,
) -> None:
    """Sizing a table never analysed waits for a lock at most a second:
    another session holding it, the size stays unknown (the finding counts
    and says so), and the run is refused instead of waiting behind it.
    """
    write_next(
        started,
        "s1",
        "s0",
        """
        op.execute('CREATE TABLE "odd:name" (id integer, name varchar(20))')
        op.execute("INSERT INTO \\"odd:name\\" VALUES (1, 'a')")
        """,
    )
    upgrade_in_process(started, "s1")
    write_next(started, "s2", "s1", 'op.create_index("ix_odd", "odd:name", ["name"])')
    with other_session(started) as session:
        session.execute(text('LOCK TABLE "odd:name" IN ACCESS EXCLUSIVE MODE'))
        refused = started.alembic(
            "-x", "migration_checks_min_rows=1000", "upgrade", "+1", ok=False
        )
        session.rollback()
    assert (
        "on table 'odd:name', size unknown (never analysed: run ANALYZE"
        ' "odd:name"):' in refused.stdout
    ), refused.stdout
    assert (
        "migration_checks: table odd:name (never analysed) stayed locked for 1s;"
        " its size is unknown." in refused.stderr
    ), refused.stderr
    # Unlocked, its one row is counted: min_rows lets it through.
    result = started.alembic("-x", "migration_checks_min_rows=1000", "upgrade", "+1")
    assert "on table 'odd:name', about 1 rows:" in result.stderr, result.stderr


@pytest.mark.pgbouncer
def test_a_never_analysed_table_is_counted_through_pgbouncer(
    bounced: Project,
) -> None:
    """Counting it takes a savepoint and a local lock_timeout inside the
    checks' transaction, which PgBouncer's transaction pooling keeps on one
    server connection; the run goes on in a clean transaction.
    """
    write_next(
        bounced,
        "s0",
        None,
        """
        op.create_table("fresh", sa.Column("id", sa.Integer(), primary_key=True),
                        sa.Column("name", sa.String(20)))
        op.execute("INSERT INTO fresh VALUES (1, 'a'), (2, 'b'), (3, 'c')")
        """,
    )
    upgrade_in_process(bounced, "s0")
    write_next(bounced, "s1", "s0", 'op.create_index("ix_fresh", "fresh", ["name"])')
    result = bounced.alembic("-x", "migration_checks_min_rows=1000", "upgrade", "head")
    assert "on table 'fresh', about 3 rows:" in result.stderr, result.stderr
    assert query(bounced, "SELECT version_num FROM alembic_version") == [("s1",)]


@pytest.mark.mariadb
def test_min_rows_exempts_a_small_new_table_on_mariadb(maria: Project) -> None:
    """InnoDB counts a new table's rows as they come (no ANALYZE needed):
    3 rows read as about 3, and migration_checks_min_rows lets it through.
    """
    write_revision(
        maria,
        "s0",
        None,
        """
        op.execute("CREATE TABLE fresh (id int PRIMARY KEY, name varchar(20))")
        op.execute("INSERT INTO fresh VALUES (1, 'a'), (2, 'b'), (3, 'c')")
        """,
    )
    upgrade_in_process(maria, "s0")
    write_next(maria, "s1", "s0", 'op.drop_column("fresh", "name")')
    result = maria.alembic("-x", "migration_checks_min_rows=1000", "upgrade", "head")
    assert (
        "[ban-drop-column] Revision s1 (" in result.stderr
        and "on table 'fresh', about 3 rows:" in result.stderr
    ), result.stderr
    assert query(maria, "SELECT version_num FROM alembic_version") == [("s1",)]
