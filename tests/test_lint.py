"""``python -m alembic_flask_env lint``: the checks in CI, nothing run."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from harness import Project
from harness import other_session
from harness import package_command
from harness import write_revision


def lint(project: Project, *arguments: str) -> tuple[int, str]:
    return package_command(project, "lint", *arguments)


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
    revisions.alembic("upgrade", "l0")
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
