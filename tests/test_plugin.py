"""The plugin: registration, cheap loading, template lookup."""

from __future__ import annotations

import importlib.metadata
import logging
from pathlib import Path

import pytest

import alembic_flask_env
from alembic_flask_env import plugin
from alembic_flask_env.plugin import template_lookup

from harness import ProjectFactory

TEMPLATE_FILES = {"README", "alembic.ini.mako", "env.py", "script.py.mako"}


def test_entry_point_is_registered_in_the_installed_distribution() -> None:
    entry_points = importlib.metadata.entry_points(group="alembic.plugins")
    ours = [ep for ep in entry_points if ep.value == "alembic_flask_env.plugin"]
    assert len(ours) == 1
    assert ours[0].load() is plugin


def test_installed_package_ships_templates_and_py_typed() -> None:
    package_dir = Path(alembic_flask_env.__file__).parent
    assert "site-packages" in package_dir.parts, (
        "tests must run against the installed wheel, not the source tree"
    )
    assert (package_dir / "py.typed").is_file()
    for name in ("flask", "flask-multidb", "flask-pyproject"):
        template = package_dir / "templates" / name
        assert {p.name for p in template.iterdir()} >= TEMPLATE_FILES


def test_import_alembic_loads_neither_flask_nor_the_environment(
    project_factory: ProjectFactory,
) -> None:
    project = project_factory("blog")
    result = project.python(
        "-W",
        "error",
        "-c",
        "import sys, alembic\n"
        "import alembic.runtime.plugins as p\n"
        "assert 'alembic_flask_env' in p._all_plugins, p._all_plugins\n"
        "heavy = {'flask', 'blogapp', 'alembic_flask_env.runtime.environment',"
        " 'alembic.config'} & set(sys.modules)\n"
        "print(sorted(heavy))\n",
    )
    assert result.stdout.strip() == "[]"
    assert result.stderr == ""


def test_the_import_hook_removes_itself_once_alembic_config_is_imported(
    project_factory: ProjectFactory,
) -> None:
    project = project_factory("blog")
    project.python(
        "-c",
        "import sys, alembic\n"
        "from alembic_flask_env.plugin.template_lookup import"
        " _ConfigModuleFinder as F\n"
        "assert any(isinstance(f, F) for f in sys.meta_path)\n"
        "import alembic.config, inspect\n"
        "assert not any(isinstance(f, F) for f in sys.meta_path)\n"
        "wrapped = alembic.config.Config._get_template_path\n"
        "assert wrapped.__alembic_flask_env_wrapped__\n"
        "assert 'class Config' in inspect.getsource(alembic.config)\n",
    )


def test_list_templates_shows_flask_beside_alembics_own(
    project_factory: ProjectFactory,
) -> None:
    project = project_factory("blog")
    output = project.alembic("list_templates").stdout
    lines = [line for line in output.splitlines() if " - " in line]
    names = [line.split(" - ")[0] for line in lines]
    assert "generic" in names
    assert names[-3:] == ["flask", "flask-multidb", "flask-pyproject"], (
        "ours come after Alembic's own"
    )
    assert (
        "flask - Flask application, single database, configured by flask_app"
        " (alembic_flask_env)." in lines
    )


def test_init_writes_the_flask_template(project_factory: ProjectFactory) -> None:
    project = project_factory("blog")
    project.init()

    scripts = project.root / "migrations"
    assert {p.name for p in scripts.iterdir()} == {
        "README",
        "env.py",
        "script.py.mako",
        "versions",
    }
    env_py = (scripts / "env.py").read_text()
    assert "from alembic_flask_env import run_migrations" in env_py
    ini = (project.root / "alembic.ini").read_text()
    assert "\nflask_app =\n" in ini
    assert "\nprepend_sys_path = %(here)s\n" in ini
    assert "\nscript_location = %(here)s/migrations\n" in ini
    assert "sqlalchemy.url" not in ini
    assert "[logger_alembic]" in ini


def test_unknown_template_still_fails_with_alembics_message(
    project_factory: ProjectFactory,
) -> None:
    project = project_factory("blog")
    result = project.alembic("init", "-t", "no-such-template", "migrations", ok=False)
    assert "FAILED: No such template" in project.output(result)
    assert "no-such-template" in project.output(result)


def test_absolute_template_path_works_as_the_no_plugin_fallback(
    project_factory: ProjectFactory,
) -> None:
    project = project_factory("blog")
    template = template_lookup.TEMPLATES_DIR / "flask"
    project.alembic("init", "-t", str(template), "migrations")
    assert (project.root / "migrations" / "env.py").read_text() == (
        template / "env.py"
    ).read_text()


def test_a_config_subclass_keeps_its_own_templates_on_a_name_clash(
    project_factory: ProjectFactory,
) -> None:
    """Flask-Migrate's Config subclass points at its own directory; a
    template of that directory named like ours must win.
    """
    project = project_factory("blog")
    own = project.root / "own_templates" / "flask"
    own.mkdir(parents=True)
    (own / "README").write_text("The subclass's own flask template.\n")
    (own / "env.py").write_text("# the subclass's env.py\n")
    (own / "alembic.ini.mako").write_text("[alembic]\nscript_location = x\n")
    listing = project.python(
        "-c",
        "from alembic import command\n"
        "from alembic.config import Config\n"
        "class Own(Config):\n"
        "    def get_template_directory(self):\n"
        "        return 'own_templates'\n"
        "config = Own('alembic.ini')\n"
        "command.init(config, 'migrations', template='flask')\n"
        "command.list_templates(config)\n",
    )
    assert (project.root / "migrations" / "env.py").read_text() == (
        "# the subclass's env.py\n"
    )
    assert "flask - The subclass's own flask template." in listing.stdout
    assert listing.stdout.count("flask - ") == 1


def test_setup_logs_and_returns_when_something_goes_wrong(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken_install() -> None:
        raise RuntimeError("simulated failure")

    monkeypatch.setattr(template_lookup, "install", broken_install)
    with caplog.at_level(logging.WARNING, logger=plugin.__name__):
        plugin.setup(None)  # type: ignore[arg-type]
    assert "could not add its templates" in caplog.text
    assert "simulated failure" in caplog.text


LEDGER_LINE = (
    "# Every run is recorded in a table alembic_ledger in each database it"
    " migrates; set migration_ledger = false to turn that off.\n"
)


@pytest.mark.parametrize(
    ("template", "written"),
    [
        ("flask", "alembic.ini"),
        ("flask-multidb", "alembic.ini"),
        ("flask-pyproject", "pyproject.toml"),
    ],
)
def test_each_template_announces_the_ledger_table_and_its_off_switch(
    project_factory: ProjectFactory, template: str, written: str
) -> None:
    project = project_factory("blog")
    project.init(template)
    assert f"\n{LEDGER_LINE}" in (project.root / written).read_text()


def test_the_key_the_ledger_line_names_turns_the_table_off(
    project_factory: ProjectFactory,
) -> None:
    project = project_factory("blog", template="flask", flask_app="blogapp:create_app")
    project.set_ini_option("migration_ledger", "false")
    project.alembic("revision", "--autogenerate", "-m", "init")
    project.alembic("upgrade", "head")
    [(count,)] = project.query(
        "default.db",
        "SELECT count(*) FROM sqlite_master WHERE name = 'alembic_ledger'",
    )
    assert count == 0
    assert "user" in project.tables()
