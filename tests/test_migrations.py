"""The everyday commands through the plain ``alembic`` CLI on SQLite."""

from __future__ import annotations

import re
import textwrap

from harness import BLOG_TABLES
from harness import Project


def autogenerate(project: Project, message: str = "init") -> str:
    return project.output(project.alembic("revision", "--autogenerate", "-m", message))


def test_autogenerate_then_upgrade_creates_the_models_tables(blog: Project) -> None:
    output = autogenerate(blog)
    assert "Detected added table 'user'" in output
    [revision] = blog.revision_files()
    assert "op.create_table('post'" in revision.read_text()

    # The modules the run imports, as Python lists them (-X importtime): a
    # run on SQLite with no revision marked expand_contract = True imports
    # neither the checks' recording and rules nor expand/contract's
    # planning, which cost every run ~50 ms (benchmarks/migration_run.py).
    blog.env["PYTHONPROFILEIMPORTTIME"] = "1"
    imported = set(
        re.findall(
            r"\| +(alembic_flask_env[\w.]*)\n", blog.alembic("upgrade", "head").stderr
        )
    )
    assert "alembic_flask_env.runtime.migration_run" in imported
    assert "alembic_flask_env.expand.hook" in imported
    for costly in ("checks.recording", "checks.rules", "expand.plan", "expand.phase"):
        assert f"alembic_flask_env.{costly}" not in imported
    assert blog.tables() == BLOG_TABLES
    assert blog.version() == [revision.name.split("_")[0]]


def test_downgrade_and_current(blog: Project) -> None:
    autogenerate(blog)
    blog.alembic("upgrade", "head")
    [revision_id] = blog.version()
    assert f"{revision_id} (head)" in blog.alembic("current").stdout

    blog.alembic("downgrade", "base")
    assert blog.tables() == {"alembic_version"}
    assert blog.version() == []
    assert revision_id not in blog.alembic("current").stdout


def test_autogenerate_without_changes_writes_no_revision(blog: Project) -> None:
    autogenerate(blog)
    blog.alembic("upgrade", "head")

    output = autogenerate(blog, "nothing")
    assert "No changes in schema detected." in output
    assert len(blog.revision_files()) == 1


def test_check_reports_pending_model_changes(blog: Project) -> None:
    result = blog.alembic("check", ok=False)
    assert "New upgrade operations detected" in blog.output(result)

    autogenerate(blog)
    blog.alembic("upgrade", "head")
    assert "No new upgrade operations detected." in blog.alembic("check").stdout


def test_offline_mode_prints_sql_and_opens_no_database(blog: Project) -> None:
    autogenerate(blog)
    blog.database().unlink()  # autogenerate compared against it
    result = blog.alembic("upgrade", "head", "--sql")
    assert "CREATE TABLE user" in result.stdout
    assert "INSERT INTO alembic_version" in result.stdout
    assert not blog.database().exists()


def test_sqlite_defaults_batch_mode_and_type_comparison(blog: Project) -> None:
    autogenerate(blog)
    blog.alembic("upgrade", "head")
    models = blog.root / "blogapp" / "models.py"
    models.write_text(
        models.read_text().replace(
            "name = db.Column(db.String(50)", "name = db.Column(db.String(120)"
        )
    )

    output = autogenerate(blog, "widen name")
    assert "Detected type change from VARCHAR(length=50)" in output
    [newest_file] = [p for p in blog.revision_files() if "widen_name" in p.name]
    newest = newest_file.read_text()
    assert "with op.batch_alter_table('user'" in newest
    blog.alembic("upgrade", "head")


def test_runs_from_another_directory_with_dash_c(blog: Project) -> None:
    elsewhere = blog.root.parent / "elsewhere"
    elsewhere.mkdir()
    config = str(blog.root / "alembic.ini")
    blog.alembic("-c", config, "revision", "--autogenerate", "-m", "x", cwd=elsewhere)
    blog.alembic("-c", config, "upgrade", "head", cwd=elsewhere)
    assert blog.tables() == BLOG_TABLES
    assert not (elsewhere / "instance").exists()


def test_options_passed_to_run_migrations_override_defaults(blog: Project) -> None:
    env_py = blog.root / "migrations" / "env.py"
    env_py.write_text(
        textwrap.dedent(
            """
            from alembic_flask_env import run_migrations


            def include_object(obj, name, type_, reflected, compare_to):
                return not (type_ == "table" and name == "post")


            run_migrations(include_object=include_object)
            """
        )
    )
    output = autogenerate(blog)
    assert "Detected added table 'user'" in output
    assert "'post'" not in output


def test_each_revision_and_the_run_are_timed_in_the_log(blog: Project) -> None:
    blog.alembic("revision", "--autogenerate", "-m", "init")
    blog.alembic("revision", "-m", "second")
    first, second = (
        p.name.split("_")[0]
        for p in sorted(blog.revision_files(), key=lambda p: "second" in p.name)
    )
    log = blog.alembic("upgrade", "head").stderr
    assert re.search(rf"Finished upgrade <base> -> {first} in \d+\.\d\d s\n", log)
    assert re.search(rf"Finished upgrade {first} -> {second} in \d+\.\d\d s\n", log)
    assert re.search(r"Upgraded 2 revisions in \d+\.\d\d s\n", log)

    log = blog.alembic("upgrade", "head").stderr
    assert re.search(
        r"Upgraded 0 revisions in \d+\.\d\d s: nothing to do, the database is"
        r" there already\n",
        log,
    )
    # What only reads prints as Alembic does, and logs no summary.
    current = blog.alembic("current")
    assert current.stdout == f"{second} (head)\n"
    assert "revisions in" not in current.stderr
    assert blog.alembic("history").stdout == (
        f"{first} -> {second} (head), second\n<base> -> {first}, init\n"
    )
    assert (
        "Wrote the SQL of 1 revision\n"
        in blog.alembic("downgrade", f"{second}:{first}", "--sql").stderr
    )
    log = blog.alembic("downgrade", "base").stderr
    assert re.search(rf"Finished downgrade {second} -> {first} in", log)
    assert re.search(r"Downgraded 2 revisions in \d+\.\d\d s\n", log)
