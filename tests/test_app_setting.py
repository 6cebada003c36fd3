"""Every ``flask_app`` form, and where the setting may come from."""

from __future__ import annotations

import importlib.util

import pytest

from harness import Project


def loads_app_with_database(project: Project, database: str) -> None:
    """Autogenerate, and prove the app whose database is ``database`` was used."""
    output = project.alembic("revision", "--autogenerate", "-m", "probe").stderr
    assert "Detected added table 'user'" in output
    assert project.database(database).exists()
    others = {p.name for p in (project.root / "instance").iterdir()} - {database}
    assert others == set(), f"another app's database was opened: {others}"


@pytest.mark.parametrize(
    ("flask_app", "database"),
    [
        ("blogapp", "default.db"),  # finds the create_app factory
        ("blogapp:create_app", "default.db"),
        ("blogapp:create_app('positional')", "positional.db"),
        ('blogapp:create_app(config_name="keyword")', "keyword.db"),
        ("blogapp.wsgi", "wsgi.db"),  # finds the module's "app"
        ("blogapp.wsgi:app", "wsgi.db"),
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
