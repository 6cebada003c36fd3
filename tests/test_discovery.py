"""How the environment finds the app's database, and every way it cannot:
one discovery for the flask and flask-multidb templates alike.
"""

from __future__ import annotations

import importlib.util
import textwrap

import pytest

from harness import Project
from harness import ProjectFactory

needs_lite = pytest.mark.skipif(
    importlib.util.find_spec("flask_sqlalchemy_lite") is None,
    reason="Flask-SQLAlchemy-Lite is not installed (it needs Flask 3; the min"
    " environment pins Flask 2.2)",
)

pytestmark = pytest.mark.slow


def write_app(project: Project, name: str, source: str) -> None:
    (project.root / f"{name}.py").write_text(textwrap.dedent(source))


def test_the_multidb_template_without_a_sqlalchemy_extension(
    multiblog: Project,
) -> None:
    write_app(multiblog, "bare", "from flask import Flask\napp = Flask('bare')\n")
    multiblog.set_ini_option("flask_app", "bare:app")
    assert multiblog.failure("current") == (
        "flask_app = 'bare:app' (from [alembic] in alembic.ini) gives the Flask"
        " app 'bare', which has no SQLAlchemy extension (app.extensions has no"
        " 'sqlalchemy' entry). Create it with 'db = SQLAlchemy()'"
        " (Flask-SQLAlchemy 3.x) and call 'db.init_app(app)' in the code that"
        " flask_app names, or point flask_app at the application that does."
    )


@needs_lite
def test_the_multidb_template_with_flask_sqlalchemy_lite(
    project_factory: ProjectFactory,
) -> None:
    project = project_factory(
        "shapes", template="flask-multidb", flask_app="lite_app:create_app"
    )
    assert project.failure("current") == (
        "flask_app = 'lite_app:create_app' (from [alembic] in alembic.ini) gives"
        " the Flask app 'lite_app', whose SQLAlchemy extension"
        " (flask_sqlalchemy_lite._extension.SQLAlchemy) keeps no metadata per"
        " bind. The flask-multidb template needs Flask-SQLAlchemy 3.x; use the"
        " flask template with flask_metadata for one database."
    )


def test_an_extension_without_engines(blog: Project) -> None:
    """Flask-SQLAlchemy 2.x registered a state object without 'engines'."""
    write_app(
        blog,
        "old_extension",
        """
        from flask import Flask


        class _SQLAlchemyState:  # Flask-SQLAlchemy 2.x's shape
            db = None


        app = Flask("old_extension")
        app.extensions["sqlalchemy"] = _SQLAlchemyState()
        """,
    )
    blog.set_ini_option("flask_app", "old_extension:app")
    assert blog.failure("current") == (
        "flask_app = 'old_extension:app' (from [alembic] in alembic.ini) gives"
        " the Flask app 'old_extension', whose app.extensions['sqlalchemy'] is"
        " a old_extension._SQLAlchemyState without 'engines'. alembic_flask_env"
        " reads Flask-SQLAlchemy 3.x and Flask-SQLAlchemy-Lite; upgrade"
        " Flask-SQLAlchemy to 3.x."
    )


@needs_lite
def test_an_extension_without_a_default_engine(blog: Project) -> None:
    write_app(
        blog,
        "reports_only",
        """
        from flask import Flask
        from flask_sqlalchemy_lite import SQLAlchemy

        app = Flask("reports_only")
        app.config["SQLALCHEMY_ENGINES"] = {"reports": "sqlite://"}
        SQLAlchemy(app)
        """,
    )
    blog.set_ini_option("flask_app", "reports_only:app")
    blog.set_ini_option("flask_metadata", "blogapp.models:db.metadata")
    assert blog.failure("current") == (
        "flask_app = 'reports_only:app' (from [alembic] in alembic.ini) gives"
        " the Flask app 'reports_only', whose SQLAlchemy extension has no"
        " default engine (only 'reports'). Configure the default database of"
        " the extension."
    )


def test_a_models_module_whose_own_import_fails_keeps_its_traceback(
    blog: Project,
) -> None:
    write_app(blog, "broken_models", "import a_module_that_is_not_installed  # noqa\n")
    blog.set_ini_option("flask_metadata", "broken_models:metadata")
    result = blog.alembic("current", ok=False)
    assert "FAILED" not in blog.output(result)
    assert "Traceback (most recent call last):" in result.stderr
    assert result.stderr.rstrip().endswith(
        "ModuleNotFoundError: No module named 'a_module_that_is_not_installed'"
    )


def test_a_factory_that_imports_a_missing_flask_extension(blog: Project) -> None:
    """Raised when the factory runs, not at import: the same message."""
    write_app(
        blog,
        "late_import",
        """
        def create_app():
            import flask_no_such_extension  # noqa: F401
        """,
    )
    blog.set_ini_option("flask_app", "late_import:create_app")
    assert blog.failure("current").startswith(
        "flask_app = 'late_import:create_app' (from [alembic] in alembic.ini):"
        " the app imports the Flask extension 'flask_no_such_extension', which"
        " is not installed in the Python that runs alembic"
    )


def test_a_factory_that_imports_a_missing_module_of_its_own(blog: Project) -> None:
    write_app(
        blog,
        "late_bug",
        """
        def create_app():
            import not_a_flask_extension_and_missing  # noqa: F401
        """,
    )
    blog.set_ini_option("flask_app", "late_bug:create_app")
    result = blog.alembic("current", ok=False)
    assert "FAILED" not in blog.output(result)
    assert result.stderr.rstrip().endswith(
        "ModuleNotFoundError: No module named 'not_a_flask_extension_and_missing'"
    )


# -- flask-multidb: hooks, stamps and a bind that cannot be reached ------------


def test_a_users_on_version_apply_hook_runs_beside_ours(multiblog: Project) -> None:
    (multiblog.root / "migrations" / "env.py").write_text(
        "from alembic_flask_env import run_multidb_migrations\n\n\n"
        "def announce(*, ctx, step, heads, run_args):\n"
        "    print('applied', step.up_revision_id, run_args['engine_name'])\n\n\n"
        "run_multidb_migrations(on_version_apply=announce)\n"
    )
    multiblog.alembic("revision", "--autogenerate", "-m", "init")
    [revision] = multiblog.revision_files()
    revision_id = revision.name.split("_")[0]
    assert multiblog.alembic("upgrade", "head").stdout == (
        f"applied {revision_id} default\napplied {revision_id} users\n"
    )
    # A stamp runs no revision function: nothing to say about skipped binds.
    output = multiblog.output(multiblog.alembic("stamp", "base"))
    assert "nothing ran for bind" not in output
    assert multiblog.version("main.db") == []


def test_a_bind_that_cannot_be_reached_is_a_clear_error(multiblog: Project) -> None:
    multiblog.alembic("revision", "-m", "empty")
    missing = multiblog.root / "no" / "such" / "dir" / "users.db"
    multiblog.env["MULTIBLOG_USERS_URI"] = f"sqlite:///{missing}"
    result = multiblog.alembic("upgrade", "head", ok=False)
    [line] = [x for x in result.stdout.splitlines() if x.startswith("FAILED: ")]
    assert line.startswith(
        f"FAILED: Could not connect to sqlite:///{missing} (bind 'users' of"
        " Flask app 'multiblog'): unable to open database file."
    )
    # A configuration error, not a failed migration: no rollback to report.
    assert "Migrating bind" not in result.stderr
    assert "Traceback" not in result.stderr


def test_an_import_error_inside_the_apps_module_keeps_its_traceback(
    blog: Project,
) -> None:
    """Not a missing module (ModuleNotFoundError) but a bad name in one that
    exists: the user's bug, with its own traceback.
    """
    write_app(blog, "bad_name", "from os import no_such_name  # noqa: F401\n")
    blog.set_ini_option("flask_app", "bad_name")
    result = blog.alembic("current", ok=False)
    assert "FAILED" not in blog.output(result)
    assert result.stderr.rstrip().endswith(
        "ImportError: cannot import name 'no_such_name' from 'os'"
        f" ({__import__('os').__file__})"
    )
