"""Side by side with squawk: on a corpus of unsafe revisions, every finding
squawk makes for a rule we share is one we make too.

squawk (``pip install squawk-cli``) lints SQL files; the SQL is what
``alembic upgrade --sql`` renders for each revision, split at Alembic's
``-- Running upgrade`` comments so that each finding belongs to a revision.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_safe_migrations import IMPORTS
from test_safe_migrations import POSTGRESQL_CASES
from test_safe_migrations import SETUP

from alembic_flask_env.checks.rules import RULE_IDS

from harness import BIN_DIR
from harness import Project
from harness import write_revision

SQUAWK = shutil.which("squawk", path=str(BIN_DIR))

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(SQUAWK is None, reason="squawk-cli is not installed here"),
]

#: squawk's rules that we do not have, and why (the README lists them).
NOT_OURS = {
    "prefer-robust-stmts",  # a run is one transaction, rolled back on failure
    "require-lock-timeout",  # table_lock_timeout sets it for the whole run
    "require-statement-timeout",
    "prefer-bigint-over-int",  # style, not what the statement does to the app
    "prefer-bigint-over-smallint",
    "prefer-identity",
    "prefer-text-field",
    "prefer-timestamptz",
    "ban-char-field",
    "adding-serial-primary-key-field",
    "transaction-nesting",  # the BEGIN/COMMIT of --sql, cut per revision here
}


def corpus(project: Project) -> dict[str, str]:
    """One revision per unsafe case after the setup: revision id -> rule."""
    write_revision(project, "s0", None, SETUP)
    down, cases = "s0", {}
    for number, (rule, (unsafe, _)) in enumerate(sorted(POSTGRESQL_CASES.items())):
        revision = f"c{number:02d}"
        path = write_revision(project, revision, down, unsafe)
        path.write_text(IMPORTS + path.read_text())
        cases[revision] = rule
        down = revision
    return cases


def squawk_findings(project: Project, tmp: Path) -> dict[str, set[str]]:
    sql = project.alembic("upgrade", "s0:head", "--sql").stdout
    chunks = re.split(r"^-- Running upgrade \S+ -> (\S+)$", sql, flags=re.MULTILINE)
    files = {}
    for revision, text in zip(chunks[1::2], chunks[2::2], strict=True):
        path = tmp / f"{revision}.sql"
        path.write_text(text)
        files[str(path)] = revision
    assert SQUAWK is not None
    result = subprocess.run(
        [SQUAWK, "--reporter", "json", *files], capture_output=True, text=True
    )
    found: dict[str, set[str]] = {revision: set() for revision in files.values()}
    for finding in json.loads(result.stdout):
        found[files[finding["file"]]].add(finding["rule_name"])
    return found


def our_findings(project: Project) -> dict[str, set[str]]:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "alembic_flask_env",
            "lint",
            "--range",
            "s0:heads",
            "--format",
            "json",
        ],
        cwd=project.root,
        env=project.env,
        capture_output=True,
        text=True,
    )
    found: dict[str, set[str]] = {}
    for finding in json.loads(result.stdout):
        found.setdefault(finding["revision"], set()).add(finding["rule"])
    return found


def test_every_squawk_finding_of_a_shared_rule_is_ours(
    blog: Project, tmp_path: Path
) -> None:
    # Offline: the URL is never connected to.
    blog.env["BLOGAPP_DATABASE_URI"] = "postgresql+psycopg://u:p@127.0.0.1:1/x"
    cases = corpus(blog)
    theirs, ours = squawk_findings(blog, tmp_path), our_findings(blog)
    for revision, rule in cases.items():
        assert rule in ours.get(revision, set()), (revision, rule, ours)
        shared = theirs[revision] & RULE_IDS
        assert shared <= ours[revision], (revision, theirs[revision], ours[revision])
    unknown = set().union(*theirs.values()) - RULE_IDS - NOT_OURS
    assert not unknown, f"squawk rules the README does not account for: {unknown}"


#: The tables real apps' revisions alter (issue 23), beyond the corpus's.
REAL_SETUP = (
    SETUP
    + """
op.execute("ALTER TABLE item ADD COLUMN created timestamp")
op.execute("CREATE TABLE tag (name varchar(20) NOT NULL)")
"""
)

#: Patterns from five public Flask apps' histories: name -> revision body.
#: Each is linted by squawk (from what ``alembic upgrade --sql`` renders
#: through our env) and by us; on the rules we share, the findings must
#: be the same.
REAL_WORLD = {
    "index-true-column": 'op.add_column("item", sa.Column("code", sa.String(20),'
    " index=True))",
    "foreign-key-column": 'op.add_column("item", sa.Column("maker_id", sa.Integer(),'
    ' sa.ForeignKey("owner.id")))',
    "unique-column": 'op.add_column("item", sa.Column("sku", sa.String(20),'
    " unique=True))",
    "create-primary-key": 'op.create_primary_key("pk_tag", "tag", ["name"])',
    "empty-string-default": 'op.add_column("item", sa.Column("note", sa.String(20),'
    ' nullable=False, server_default=""))',
    "text-through-the-bind": 'op.get_bind().execute(sa.text("ALTER TABLE item'
    ' ALTER COLUMN created TYPE timestamptz"))',
    # (exec_driver_sql is not in --sql's connection: tests/test_lint.py.)
    "index-through-the-bind": 'op.get_bind().execute(sa.text("CREATE INDEX'
    ' ix_item_name ON item (name)"))',
    "connection-execute": """
        connection = op.get_bind()
        connection.execute(sa.text("ALTER TABLE item DROP COLUMN qty"))
        """,
    # (--sql's connection has no engine.url: tests/test_lint.py has that.)
    "branch-on-the-dialect": """
        if op.get_bind().dialect.name == "postgresql":
            op.alter_column("item", "qty", type_=sa.BigInteger(),
                            existing_type=sa.Integer())
        """,
    "branch-on-the-engine-name": """
        if op.get_bind().engine.name == "postgresql":
            op.create_index("ix_item_owner", "item", ["owner_id"])
        """,
    "current-app-when-imported": 'op.create_index("ix_item_created", TABLE,'
    ' ["created"])',
}
#: What a case's module runs when imported.
WHEN_IMPORTED = {
    "current-app-when-imported": "TABLE = current_app.config.get('T', 'item')\n"
}

#: Where we differ from squawk on a shared rule on purpose: none.
DIFFERENCES: dict[str, str] = {}


def test_real_world_revisions_as_squawk_sees_them(
    blog: Project, tmp_path: Path
) -> None:
    blog.env["BLOGAPP_DATABASE_URI"] = "postgresql+psycopg://u:p@127.0.0.1:1/x"
    write_revision(blog, "s0", None, REAL_SETUP)
    down, cases = "s0", {}
    for number, (name, body) in enumerate(REAL_WORLD.items()):
        revision = f"w{number:02d}"
        path = write_revision(blog, revision, down, body)
        imports = IMPORTS + "from flask import current_app\n"
        path.write_text(imports + WHEN_IMPORTED.get(name, "") + path.read_text())
        cases[revision] = name
        down = revision
    theirs, ours = squawk_findings(blog, tmp_path), our_findings(blog)
    for revision, name in cases.items():
        shared = theirs[revision] & RULE_IDS
        mine = ours.get(revision, set())
        assert shared == mine, (name, theirs[revision], mine)
    assert not ours.get(cases_of(cases, "empty-string-default"))


def cases_of(cases: dict[str, str], name: str) -> str:
    [revision] = [revision for revision, case in cases.items() if case == name]
    return revision
