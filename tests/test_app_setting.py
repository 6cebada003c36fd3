"""Every ``flask_app`` form, and where the setting may come from."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from harness import Project
from harness import slow


def loads_app_with_database(project: Project, database: str) -> None:
    """Autogenerate, and prove the app whose database is ``database`` was used."""
    output = project.alembic("revision", "--autogenerate", "-m", "probe").stderr
    assert "Detected added table 'user'" in output
    assert project.database(database).exists()
    others = {p.name for p in (project.root / "instance").iterdir()} - {database}
    assert others == set(), f"another app's database was opened: {others}"


# Three forms on every Python (py313 too): a module, a file path (Python's
# import machinery) and a factory with arguments. The others' outcome is
# Flask's (min's and coverage's versions run them all), and
# tests/unit/test_app_loading.py loads each form in-process everywhere.
@pytest.mark.parametrize(
    ("flask_app", "database"),
    [
        ("blogapp", "default.db"),  # finds the create_app factory
        slow("blogapp:create_app", "default.db"),
        slow("blogapp:create_app('positional')", "positional.db"),
        slow('blogapp:create_app(config_name="keyword")', "keyword.db"),
        slow("blogapp.wsgi", "wsgi.db"),  # finds the module's "app"
        slow("blogapp.wsgi:app", "wsgi.db"),
        ("blogapp/wsgi.py", "wsgi.db"),
        ("needs_args:create_app('args')", "args.db"),
    ],
)
def test_every_flask_app_form(blog: Project, flask_app: str, database: str) -> None:
    blog.set_ini_option("flask_app", flask_app)
    loads_app_with_database(blog, database)


def test_dash_x_beats_the_ini_which_beats_flask_app_variable(blog: Project) -> None:
    blog.set_ini_option("flask_app", "blogapp:create_app('ini')")
    blog.env["FLASK_APP"] = "blogapp:create_app('variable')"

    blog.alembic("-x", "flask_app=blogapp:create_app('x')", "current")
    assert {p.name for p in (blog.root / "instance").iterdir()} == {"x.db"}

    blog.alembic("current")
    assert blog.database("ini.db").exists()

    blog.set_ini_option("flask_app", "")
    blog.alembic("current")
    assert blog.database("variable.db").exists()


def test_flask_app_from_pyproject_toml(blog: Project) -> None:
    blog.set_ini_option("flask_app", "")
    (blog.root / "pyproject.toml").write_text(
        "[tool.alembic]\nflask_app = \"blogapp:create_app('toml')\"\n"
    )
    loads_app_with_database(blog, "toml.db")


def test_the_ini_wins_over_pyproject_toml(blog: Project) -> None:
    blog.set_ini_option("flask_app", "blogapp:create_app('ini')")
    (blog.root / "pyproject.toml").write_text(
        "[tool.alembic]\nflask_app = \"blogapp:create_app('toml')\"\n"
    )
    loads_app_with_database(blog, "ini.db")


def test_flask_app_in_a_pyproject_toml_that_alembic_did_not_read(
    blog: Project, tmp_path: Path
) -> None:
    """``alembic -c path/alembic.ini`` from elsewhere reads the ini, but
    pyproject.toml only from the working directory: the message says which
    file holds flask_app and how to have it read, and that way works.
    """
    blog.set_ini_option("flask_app", "")
    (blog.root / "pyproject.toml").write_text(
        '[tool.alembic]\nflask_app = "blogapp:create_app"\n'
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    ini, toml = blog.root / "alembic.ini", blog.root / "pyproject.toml"
    result = blog.alembic("-c", str(ini), "current", cwd=elsewhere, ok=False)
    assert "Traceback" not in blog.output(result)
    assert result.stdout.strip() == (
        "FAILED: No Flask application is configured: 'flask_app' is not set"
        f" in {ini}, and {toml} sets it under [tool.alembic] but was not read:"
        " the alembic command reads pyproject.toml from the working directory"
        f" ({elsewhere}) only, unless a second -c names it. Run alembic from"
        f" {blog.root}, name both files (alembic -c {ini} -c {toml} ...), or"
        f" move flask_app into [alembic] in {ini}."
    )
    blog.alembic("-c", str(ini), "-c", str(toml), "current", cwd=elsewhere)
    assert blog.database().exists()


def test_settings_in_an_unread_pyproject_toml_are_named_in_a_warning(
    blog: Project, tmp_path: Path
) -> None:
    (blog.root / "pyproject.toml").write_text(
        '[tool.alembic]\nmigration_checks = "error"\nmigration_ledger = false\n'
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    ini, toml = blog.root / "alembic.ini", blog.root / "pyproject.toml"
    result = blog.alembic("-c", str(ini), "current", cwd=elsewhere)
    assert (
        f"WARNI [alembic_flask_env.app.loading] {toml} has settings under"
        " [tool.alembic] (migration_checks, migration_ledger) that this run does"
        " not read: the alembic command reads pyproject.toml from the working"
        f" directory ({elsewhere}) only, unless a second -c names it. Run alembic"
        f" from {blog.root}, or name both files: alembic -c {ini} -c {toml} ...\n"
    ) in result.stderr
    # Run from its own directory, or with both files named, nothing is said.
    for arguments, cwd in (
        (["current"], blog.root),
        (["-c", str(ini), "-c", str(toml), "current"], elsewhere),
    ):
        assert "does not read" not in blog.alembic(*arguments, cwd=cwd).stderr


@pytest.mark.skipif(
    importlib.util.find_spec("dotenv") is None,
    reason="python-dotenv is not installed (the min environment runs without it)",
)
def test_flask_app_from_flaskenv_like_the_flask_command(blog: Project) -> None:
    blog.set_ini_option("flask_app", "")
    (blog.root / ".flaskenv").write_text("FLASK_APP=blogapp:create_app('dotenv')\n")
    del blog.env["FLASK_SKIP_DOTENV"]
    loads_app_with_database(blog, "dotenv.db")


@pytest.mark.parametrize(
    "argument",
    ["flask_app =blogapp:create_app('x')", " flask_app=blogapp:create_app('x')"],
)
def test_spaces_around_the_dash_x_key_still_name_it(
    blog: Project, argument: str
) -> None:
    blog.set_ini_option("flask_app", "blogapp:create_app('ini')")
    blog.alembic("-x", argument, "current")
    assert {p.name for p in (blog.root / "instance").iterdir()} == {"x.db"}
