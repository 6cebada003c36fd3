"""``python -m alembic_flask_env lint``: the checks in CI, nothing run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from harness import Project
from harness import other_session
from harness import package_command
from harness import write_revision


def lint(project: Project, *arguments: str) -> tuple[int, str]:
    return package_command(project, "lint", *arguments)


def at_revision(project: Project, revision: str, *statements: str) -> None:
    """The project's database as an upgrade to ``revision`` leaves it (that
    revision's ``statements`` and alembic_version), made in process: the
    start state of a test about a later revision, without an ``alembic`` run.
    """
    with other_session(project) as session:
        for statement in statements:
            session.execute(text(statement))
        session.execute(
            text(
                "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL,"
                " CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
            )
        )
        session.execute(
            text("INSERT INTO alembic_version VALUES (:revision)"),
            {"revision": revision},
        )
        session.commit()


@pytest.fixture
def revisions(blog: Project) -> Project:
    write_revision(
        blog, "l0", None, 'op.create_table("item", sa.Column("id", sa.Integer()))'
    )
    write_revision(blog, "l1", "l0", 'op.create_index("ix_item_id", "item", ["id"])')
    write_revision(blog, "l2", "l1", 'op.drop_column("item", "id")')
    for name in ("l0", "l1", "l2"):
        path = blog.root / "migrations" / "versions" / f"{name}.py"
        path.write_text("import sqlalchemy as sa\n" + path.read_text())
    return blog


def test_a_table_created_in_the_range_is_exempt(revisions: Project) -> None:
    """The range is checked as one run: a table its first revision
    creates is new, nobody uses it yet.
    """
    assert lint(revisions) == (0, "No findings.\n")


def test_text_names_rule_revision_and_line(revisions: Project) -> None:
    code, output = lint(revisions, "--range", "l0:heads")
    assert code == 1
    path = revisions.root / "migrations" / "versions" / "l1.py"
    assert (
        f"[require-concurrent-index-creation] Revision l1 ({path}, line 11) on"
        " table 'item': CREATE INDEX takes a SHARE lock" in output
    )
    assert "[ban-drop-column] Revision l2 (" in output


def test_json_and_github_formats(revisions: Project) -> None:
    code, output = lint(revisions, "--range", "l0:heads", "--format", "json")
    assert code == 1
    findings = json.loads(output)
    assert [f["rule"] for f in findings] == [
        "require-concurrent-index-creation",
        "ban-drop-column",
    ]
    assert set(findings[0]) == {
        "rule",
        "revision",
        "path",
        "line",
        "table",
        "message",
        "fix",
    }
    code, output = lint(revisions, "--range", "l0:heads", "--format", "github")
    path = revisions.root / "migrations" / "versions" / "l1.py"
    assert output.splitlines()[0].startswith(
        f"::error file={path},line=11,title=require-concurrent-index-creation::"
    )


def test_a_range_and_a_clean_result(revisions: Project) -> None:
    code, output = lint(revisions, "--range", "l2:heads")
    assert (code, output.strip()) == (0, "No findings.")
    code, output = lint(revisions, "--range", "l1:l2")
    assert code == 1
    assert "Revision l1" not in output
    assert "[ban-drop-column] Revision l2 (" in output


def test_bad_usage_exits_2(revisions: Project) -> None:
    code, output = lint(revisions, "-c", "nowhere.ini")
    assert code == 2
    assert "FAILED: nowhere.ini is not a file; pass -c." in output
    code, _ = lint(revisions, "--format", "xml")
    assert code == 2


@pytest.mark.postgresql
def test_with_the_database_its_facts_apply(
    revisions: Project, postgresql_url: str
) -> None:
    revisions.env["BLOGAPP_DATABASE_URI"] = postgresql_url
    revisions.server_url = postgresql_url
    at_revision(revisions, "l0", "CREATE TABLE item (id INTEGER)")
    with other_session(revisions) as session:
        session.execute(text("ANALYZE item"))
        session.commit()
    code, output = lint(revisions, "--database", "--range", "l0:heads")
    assert code == 1
    assert "on table 'item', about 0 rows" in output


def test_the_database_of_an_unchecked_kind_and_a_bad_range(revisions: Project) -> None:
    code, output = lint(revisions, "--database")
    assert code == 2
    assert (
        "FAILED: lint --database: the app's database is sqlite, and the rules are"
        " for postgresql, mysql, mariadb." in output
    )
    code, output = lint(revisions, "--range", "nosuch:heads")
    assert code == 2
    assert output.startswith("FAILED: ")


# Real apps' histories (issue 23): what their revisions do when imported
# and recorded must not crash the lint, hide a revision, or spoil its output.


def _with_imports(path: Path, imports: str) -> Path:
    path.write_text(imports + path.read_text())
    return path


def test_a_revision_reading_current_app_when_imported_is_linted(
    blog: Project,
) -> None:
    """Loaded in the app's context, as a run loads it."""
    path = write_revision(
        blog, "a1", None, 'op.create_index("ix_item_qty", TABLE, ["qty"])'
    )
    _with_imports(
        path,
        "from flask import current_app\n"
        "TABLE = current_app.config.get('ITEM_TABLE', 'item')\n",
    )
    code, output = lint(blog)
    assert code == 1, output
    assert "[require-concurrent-index-creation] Revision a1 (" in output
    assert "Working outside of application context" not in output


def test_an_unloadable_revision_is_named_and_the_rest_linted(blog: Project) -> None:
    write_revision(blog, "u1", None, 'op.drop_column("item", "qty")')
    broken = write_revision(blog, "u2", "u1", 'op.drop_column("item", "name")')
    _with_imports(broken, "import a_module_that_is_not_installed\n")
    secret = write_revision(blog, "u3", "u2", 'op.drop_column("item", "owner_id")')
    _with_imports(
        secret,
        "raise RuntimeError('no server at"
        " postgresql://app:s3cr3tpass@db.internal/app?sslpassword=k3yk3y')\n",
    )
    write_revision(blog, "u4", "u3", 'op.drop_table("item")')
    code, output = lint(blog, "--format", "json")
    assert code == 3, output
    stdout = output[: output.rindex("]") + 1]
    findings = json.loads(stdout[stdout.index("[") :])
    assert [(f["revision"], f["rule"]) for f in findings] == [
        ("u1", "ban-drop-column"),
        ("u4", "ban-drop-table"),
    ]
    assert (
        f"Revision u2 ({broken}) could not be loaded, so it is not checked:"
        " ModuleNotFoundError: No module named 'a_module_that_is_not_installed'"
        in output
    )
    assert (
        f"Revision u3 ({secret}) could not be loaded, so it is not checked:"
        " RuntimeError: no server at postgresql://***@db.internal/app"
        "?sslpassword=***" in output
    )
    assert "s3cr3tpass" not in output and "k3yk3y" not in output


def test_what_revisions_print_goes_to_stderr(blog: Project) -> None:
    path = write_revision(
        blog,
        "p1",
        None,
        """
        print("adding the index")
        op.create_index("ix_item_qty", "item", ["qty"])
        """,
    )
    _with_imports(path, "print('loading p1')\n")
    result = blog.python(
        "-m", "alembic_flask_env", "lint", "--format", "json", ok=False
    )
    assert result.returncode == 1
    [finding] = json.loads(result.stdout)
    assert finding["rule"] == "require-concurrent-index-creation"
    assert "loading p1" in result.stderr and "adding the index" in result.stderr


def test_sql_sent_through_the_connection_is_checked(blog: Project) -> None:
    path = write_revision(
        blog,
        "b1",
        None,
        """
        op.get_bind().execute(text("CREATE INDEX ix_a ON item (qty)"))
        op.get_bind().execute(sa.text("ALTER TABLE item DROP COLUMN name"))
        connection = op.get_bind()
        connection.exec_driver_sql("ALTER TABLE item ALTER COLUMN qty TYPE bigint")
        connection.execute(sa.text("ALTER TABLE item RENAME TO article"))
        op.get_context().bind.execute(sa.text("DROP TABLE owner"))
        """,
    )
    _with_imports(path, "import sqlalchemy as sa\nfrom sqlalchemy import text\n")
    code, output = lint(blog, "--format", "json")
    assert code == 1, output
    assert [(f["rule"], f["line"]) for f in json.loads(output)] == [
        ("require-concurrent-index-creation", 12),
        ("ban-drop-column", 13),
        ("changing-column-type", 15),
        ("renaming-table", 16),
        ("ban-drop-table", 17),
    ]


def test_types_and_tables_made_through_the_connection_are_linted(
    blog: Project,
) -> None:
    """SQLAlchemy's ``create(bind)`` / ``drop(bind)`` is recorded, not a
    stop: what follows an enum type's creation is linted, and a table
    dropped so is a dropped table.
    """
    path = write_revision(
        blog,
        "t1",
        None,
        """
        sa.Enum("a", "b", name="kind").create(op.get_bind(), checkfirst=True)
        op.drop_column("item", "name")
        sa.Table("owner", sa.MetaData()).drop(op.get_context().bind, checkfirst=True)
        """,
    )
    _with_imports(path, "import sqlalchemy as sa\n")
    code, output = lint(blog, "--format", "json")
    assert code == 1, output
    assert "could not be checked" not in output
    assert [(f["rule"], f["line"]) for f in json.loads(output)] == [
        ("ban-drop-column", 12),
        ("ban-drop-table", 13),
    ]


#: The ways a revision asks which database it runs on.
BRANCH_CONDITIONS = [
    'op.get_bind().engine.url.drivername.startswith("postgresql")',
    'op.get_bind().engine.url.get_backend_name() == "postgresql"',
    'op.get_bind().dialect.name == "postgresql"',
    'op.get_bind().engine.name == "postgresql"',
    'op.get_bind().engine.dialect.name == "postgresql"',
    'op.get_context().dialect.name == "postgresql"',
]


def test_revisions_branching_on_their_database_each_way_are_recorded(
    blog: Project,
) -> None:
    """A revision per way of asking, linted in one run (which records each
    revision's upgrade() on its own): each is recorded down its branch.
    """
    down = None
    for number, condition in enumerate(BRANCH_CONDITIONS, start=1):
        path = write_revision(
            blog,
            f"d{number}",
            down,
            f"""
            if {condition}:
                op.alter_column("item", "created", type_=sa.DateTime(timezone=True),
                                existing_type=sa.DateTime())
            """,
        )
        _with_imports(path, "import sqlalchemy as sa\n")
        down = f"d{number}"
    code, output = lint(blog)
    assert code == 1, output
    for number, condition in enumerate(BRANCH_CONDITIONS, start=1):
        assert f"[changing-column-type] Revision d{number} (" in output, condition
    assert "could not be checked" not in output


def test_what_the_stand_in_cannot_answer_is_one_named_line(blog: Project) -> None:
    path = write_revision(
        blog,
        "q1",
        None,
        """
        op.drop_column("item", "qty")
        rows = op.get_bind().execute(sa.text("SELECT id FROM item")).fetchall()
        op.drop_column("item", "name")
        """,
    )
    _with_imports(path, "import sqlalchemy as sa\n")
    code, output = lint(blog)
    assert code == 1, output
    assert (
        f"Revision q1 ({path}, line 12) could not be checked to its end: while"
        " its operations were recorded, its upgrade() raised"
        " CannotAnswerWhileRecording: it reads the result of"
        " op.get_bind().execute() (.fetchall), which only the database has."
        " What it did before that was checked; the rest runs unchecked." in output
    )
    assert output.count("could not be checked") == 1
    assert "[ban-drop-column] Revision q1 (" in output


ENUM_SYNC = '''
"""An operation plugin: registers op.sync_enum_values when imported."""
from alembic.operations import MigrateOperation, Operations


@Operations.register_operation("sync_enum_values")
class SyncEnumValuesOp(MigrateOperation):
    def __init__(self, name, values):
        self.name, self.values = name, values

    @classmethod
    def sync_enum_values(cls, operations, name, values):
        return operations.invoke(cls(name, values))


@Operations.implementation_for(SyncEnumValuesOp)
def sync_enum_values(operations, operation):
    for value in operation.values:
        operations.execute(
            f"ALTER TYPE {operation.name} ADD VALUE IF NOT EXISTS '{value}'"
        )
'''


def test_an_operation_plugin_env_py_imports_is_recorded(blog: Project) -> None:
    (blog.root / "enum_sync.py").write_text(ENUM_SYNC)
    write_revision(
        blog,
        "e1",
        None,
        """
        op.sync_enum_values("status", ["draft", "published"])
        op.create_index("ix_item_qty", "item", ["qty"])
        """,
    )
    code, output = lint(blog)
    assert "has no attribute 'sync_enum_values'" in output
    assert "Revision e1" in output and "could not be checked to its end" in output
    env_py = blog.root / "migrations" / "env.py"
    env_py.write_text("import enum_sync  # noqa: F401\n" + env_py.read_text())
    code, output = lint(blog)
    assert code == 1, output
    assert "could not be checked" not in output
    assert "[require-concurrent-index-creation] Revision e1 (" in output


def test_an_env_py_import_that_fails_is_named(blog: Project) -> None:
    env_py = blog.root / "migrations" / "env.py"
    env_py.write_text("import enum_sync_not_installed\n" + env_py.read_text())
    write_revision(blog, "e1", None, 'op.sync_enum_values("status", ["a"])')
    code, output = lint(blog)
    assert code == 0, output
    assert (
        f"lint: {env_py} (line 1) imports enum_sync_not_installed, which could"
        " not be imported here (ModuleNotFoundError: No module named"
        " 'enum_sync_not_installed'); a revision that needs it is named below as"
        " not checked." in output
    )
    assert "Revision e1 (" in output and "could not be checked to its end" in output


#: What a revision sets foreign_key_checks to before it adds a foreign
#: key, and whether the foreign key is then refused on MySQL/MariaDB.
FOREIGN_KEY_CHECKS = [
    ("SET foreign_key_checks = 0", "", False),
    ("SET SESSION foreign_key_checks = OFF", "", False),
    ("SET @@foreign_key_checks = false", "", False),
    ("set @@session.foreign_key_checks = OFF", "", False),
    ("SET LOCAL foreign_key_checks='0'", "", False),
    ("/*!40014 SET FOREIGN_KEY_CHECKS=0 */", "", False),
    (
        "SET SESSION foreign_key_checks = 0",
        "SET SESSION foreign_key_checks = 1",
        True,
    ),
    ("SET @@session.foreign_key_checks = OFF", "SET foreign_key_checks = ON", True),
    ("SET GLOBAL foreign_key_checks = 0", "", True),
]


def test_the_last_foreign_key_checks_setting_counts_on_mysql(blog: Project) -> None:
    """A revision per case, linted in one run per dialect: the rule looks
    at the settings earlier in the same upgrade() only (the lint starts
    each revision afresh), so each revision's finding is its own case's.
    """
    down = None
    for number, (before, after, _) in enumerate(FOREIGN_KEY_CHECKS, start=1):
        write_revision(
            blog,
            f"f{number}",
            down,
            f"""
            op.execute({before!r})
            {f"op.execute({after!r})" if after else ""}
            op.create_foreign_key("fk_item_owner", "item", "owner",
                                  ["owner_id"], ["id"])
            """,
        )
        down = f"f{number}"
    refused = [
        f"f{number}"
        for number, (_, _, is_refused) in enumerate(FOREIGN_KEY_CHECKS, start=1)
        if is_refused
    ]
    for dialect in ("mysql", "mariadb"):
        code, output = lint(blog, "--dialect", dialect, "--format", "json")
        assert code == 1, output
        findings = json.loads(output)
        for number, case in enumerate(FOREIGN_KEY_CHECKS, start=1):
            found = [f["rule"] for f in findings if f["revision"] == f"f{number}"]
            assert (found == ["adding-foreign-key-constraint"]) == case[2], (
                dialect,
                case,
                found,
            )
        assert sorted(f["revision"] for f in findings) == sorted(refused)


@pytest.mark.mariadb
def test_on_mariadb_a_branch_on_the_database_is_checked_before_it_runs(
    maria: Project,
) -> None:
    """The pre-run check records the revision to its end: the ALTER in the
    branch is refused as it would be without the branch, and nothing runs.
    """
    write_revision(
        maria,
        "m0",
        None,
        """
        op.execute("CREATE TABLE owner (id int PRIMARY KEY)")
        op.execute("CREATE TABLE item (id int PRIMARY KEY, owner_id int,"
                   " created DATETIME)")
        op.execute("INSERT INTO item VALUES (1, NULL, NOW())")
        """,
    )
    at_revision(
        maria,
        "m0",
        "CREATE TABLE owner (id int PRIMARY KEY)",
        "CREATE TABLE item (id int PRIMARY KEY, owner_id int, created DATETIME)",
        "INSERT INTO item VALUES (1, NULL, NOW())",
    )
    path = write_revision(
        maria,
        "m1",
        "m0",
        """
        bind = op.get_bind()
        if (bind.engine.url.drivername.startswith("mysql")
                and bind.dialect.is_mariadb and bind.engine.url.database):
            op.alter_column("item", "created", type_=mysql.DATETIME(fsp=6),
                            existing_type=mysql.DATETIME())
        """,
    )
    _with_imports(path, "from sqlalchemy.dialects import mysql\n")
    message = maria.alembic("upgrade", "head", ok=False).stdout
    assert "[changing-column-type] Revision m1 (" in message
    assert "so nothing was run" in message
    write_revision(
        maria,
        "m1",
        "m0",
        """
        op.execute("SET @@session.foreign_key_checks = OFF")
        op.create_foreign_key("fk_item_owner", "item", "owner", ["owner_id"], ["id"])
        op.execute("SET @@session.foreign_key_checks = ON")
        op.create_foreign_key("fk_item_owner2", "item", "owner", ["owner_id"], ["id"])
        """,
    )
    message = maria.alembic("upgrade", "head", ok=False).stdout
    assert message.count("[adding-foreign-key-constraint]") == 1, message
    assert f"[adding-foreign-key-constraint] Revision m1 ({path}, line 13)" in message


@pytest.mark.postgresql
def test_with_the_database_the_stand_in_answers_as_it_would(
    blog: Project, postgresql_url: str
) -> None:
    """Its URL (secrets masked) and its dialect, connected: a revision
    that branches on them is recorded down the branch the run will take.
    """
    blog.env["BLOGAPP_DATABASE_URI"] = postgresql_url
    blog.server_url = postgresql_url
    database = make_url(postgresql_url).database
    write_revision(blog, "v0", None, 'op.execute("CREATE TABLE item (qty int)")')
    at_revision(blog, "v0", "CREATE TABLE item (qty int)")
    path = write_revision(
        blog,
        "v1",
        "v0",
        f"""
        bind = op.get_bind()
        assert bind.engine.url.password in (None, "***"), "unmasked"
        if bind.engine.url.database == {database!r} and (
                bind.dialect.server_version_info >= (12,)):
            op.drop_column("item", "qty")
        """,
    )
    code, output = lint(blog, "--database", "--range", "v0:heads")
    assert code == 1, output
    assert f"[ban-drop-column] Revision v1 ({path}, line 14)" in output


def test_without_an_app_the_revisions_are_linted_and_that_is_said(
    revisions: Project,
) -> None:
    ini = revisions.root / "alembic.ini"
    ini.write_text(
        "\n".join(
            line
            for line in ini.read_text().splitlines()
            if not line.startswith("flask_app")
        )
    )
    code, output = lint(revisions, "--range", "l0:heads")
    assert code == 1, output
    assert (
        "lint: the Flask app was not loaded (AppNotConfigured: No Flask"
        " application is configured: 'flask_app' is not set." in output
    )
    assert "so revisions are loaded without its app context." in output
    assert "[ban-drop-column] Revision l2 (" in output
