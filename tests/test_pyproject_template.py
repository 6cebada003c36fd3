"""The flask-pyproject template: settings in [tool.alembic], logging in the ini."""

from __future__ import annotations

import sys

from alembic_flask_env.plugin.template_lookup import TEMPLATES_DIR

from harness import BLOG_TABLES
from harness import Project
from harness import ProjectFactory

TEMPLATES = TEMPLATES_DIR / "flask-pyproject"

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def test_appends_to_an_existing_pyproject_and_migrates(
    project_factory: ProjectFactory,
) -> None:
    project = project_factory("blog")
    pyproject = project.root / "pyproject.toml"
    pyproject.write_text('[project]\nname = "blog"\n')

    listing = project.alembic("list_templates").stdout
    assert (
        "flask-pyproject - Flask application, single database, configured in"
        " pyproject.toml [tool.alembic] (alembic_flask_env)." in listing
    )
    project.alembic("init", "-t", "flask-pyproject", "migrations")

    settings = tomllib.loads(pyproject.read_text())
    assert settings["project"] == {"name": "blog"}
    alembic = settings["tool"]["alembic"]
    assert alembic["flask_app"] == ""
    assert alembic["script_location"] == "%(here)s/migrations"
    assert alembic["prepend_sys_path"] == ["%(here)s"]
    ini = (project.root / "alembic.ini").read_text()
    keys = [line.split("=")[0].strip() for line in ini.splitlines() if "=" in line]
    assert "script_location" not in keys
    assert "flask_app" not in keys
    assert "[logger_alembic_flask_env]" in ini

    pyproject.write_text(
        pyproject.read_text().replace(
            'flask_app = ""', 'flask_app = "blogapp:create_app"'
        )
    )
    project.alembic("revision", "--autogenerate", "-m", "init")
    elsewhere = project.root.parent / "elsewhere"
    elsewhere.mkdir()
    project.alembic(
        "-c",
        str(project.root / "alembic.ini"),
        "-c",
        str(pyproject),
        "upgrade",
        "head",
        cwd=elsewhere,
    )
    assert project.tables() == BLOG_TABLES

    # One -c, as the template's comments say: the ini's logging is then
    # not applied, everything else works.
    current = project.alembic("-c", str(pyproject), "current", cwd=elsewhere)
    assert current.stdout.endswith(" (head)\n")
    assert list(elsewhere.iterdir()) == []
    # The ini alone cannot work from elsewhere: Alembic's own error, which
    # the README's troubleshooting explains.
    ini_only = project.alembic(
        "-c", str(project.root / "alembic.ini"), "current", cwd=elsewhere, ok=False
    )
    assert "No 'script_location' key found in configuration." in ini_only.stdout
    for name in ("pyproject.toml.mako", "alembic.ini.mako"):
        template = TEMPLATES / name
        assert "-c /path/to/alembic.ini -c /path/to/pyproject.toml" in (
            template.read_text()
        )


def test_writes_a_new_pyproject(project_factory: ProjectFactory) -> None:
    project: Project = project_factory("blog")
    project.alembic("init", "-t", "flask-pyproject", "migrations")
    settings = tomllib.loads((project.root / "pyproject.toml").read_text())
    assert settings["tool"]["alembic"]["script_location"] == "%(here)s/migrations"
