"""Flask-SQLAlchemy-Lite and plain SQLAlchemy apps, with flask_metadata."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from harness import BLOG_TABLES
from harness import Project
from harness import ProjectFactory

needs_lite = pytest.mark.skipif(
    importlib.util.find_spec("flask_sqlalchemy_lite") is None,
    reason="Flask-SQLAlchemy-Lite is not installed (it needs Flask 3; the min"
    " environment pins Flask 2.2)",
)


@pytest.fixture
def shapes(project_factory: ProjectFactory) -> Project:
    return project_factory(
        "shapes", template="flask", flask_metadata="shapes_models:Base.metadata"
    )


@pytest.mark.parametrize(
    ("flask_app", "database"),
    [
        pytest.param("lite_app:create_app", "lite.db", marks=needs_lite),
        ("plain_app:create_app", "plain.db"),
    ],
)
def test_migrates_with_the_named_metadata(
    shapes: Project, flask_app: str, database: str
) -> None:
    shapes.set_ini_option("flask_app", flask_app)
    output = shapes.output(shapes.alembic("revision", "--autogenerate", "-m", "init"))
    assert "Detected added table 'gadget'" in output
    shapes.alembic("upgrade", "head")
    assert shapes.tables(database) == {"gadget", "alembic_version"}
    assert "No changes in schema detected." in shapes.output(
        shapes.alembic("revision", "--autogenerate", "-m", "again")
    )
    shapes.alembic("downgrade", "base")
    assert shapes.tables(database) == {"alembic_version"}


def test_flask_metadata_also_overrides_flask_sqlalchemys(blog: Project) -> None:
    blog.set_ini_option("flask_metadata", "blogapp.models:db.metadata")
    blog.alembic("revision", "--autogenerate", "-m", "init")
    blog.alembic("upgrade", "head")
    assert blog.tables() == BLOG_TABLES


@needs_lite
def test_lite_without_flask_metadata(shapes: Project) -> None:
    shapes.set_ini_option("flask_app", "lite_app:create_app")
    shapes.set_ini_option("flask_metadata", "")
    assert shapes.failure("upgrade", "head") == (
        "flask_app = 'lite_app:create_app' (from [alembic] in alembic.ini) gives"
        " the Flask app 'lite_app', which has a database but no metadata that"
        " alembic_flask_env knows of (Flask-SQLAlchemy-Lite and plain SQLAlchemy"
        " keep it on your own declarative Base). Set flask_metadata ="
        " yourpackage.models:Base.metadata in alembic.ini."
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "shapes_models",
            " is not 'module:attribute'. Name the metadata of your models, for"
            " example flask_metadata = yourpackage.models:Base.metadata.",
        ),
        (
            "shapes_models:Base.meta",
            ": 'meta' was not found in DeclarativeAttributeIntercept 'Base'. Name"
            " the metadata of your models, for example flask_metadata ="
            " yourpackage.models:Base.metadata.",
        ),
    ],
)
def test_bad_flask_metadata(shapes: Project, value: str, message: str) -> None:
    """(A missing module, an attribute not found in a config object and an
    object that is no MetaData: tests/unit/test_metadata_messages.py.)
    """
    shapes.set_ini_option("flask_app", "plain_app:create_app")
    shapes.set_ini_option("flask_metadata", value)
    expected = f"flask_metadata = {value!r} (from [alembic] in alembic.ini){message}"
    assert shapes.failure("upgrade", "head") == expected


def test_plain_sqlalchemy_with_a_relative_sqlite_path_is_refused(
    shapes: Project, tmp_path: Path
) -> None:
    """Plain SQLAlchemy would open it relative to the working directory:
    from anywhere but the project, an empty database, silently.
    """
    shapes.set_ini_option("flask_app", "relative_app:create_app")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = shapes.alembic(
        "-c", str(shapes.root / "alembic.ini"), "current", cwd=elsewhere, ok=False
    )
    [line] = [x for x in result.stdout.splitlines() if x.startswith("FAILED: ")]
    assert line == (
        "FAILED: SQLALCHEMY_DATABASE_URI = 'sqlite:///relative.db' of Flask app"
        " 'relative_app' is a relative SQLite path, which plain SQLAlchemy opens"
        " relative to the working directory: here"
        f" {elsewhere / 'relative.db'}, and an empty new database wherever"
        " alembic runs from. Make it absolute in the app's configuration, for"
        " example 'sqlite:///' + os.path.join(app.instance_path,"
        " 'relative.db')."
    )
    assert list(elsewhere.iterdir()) == []
    assert not (shapes.root / "relative.db").exists()


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        (
            "postgresql+psycopg//app:s3cretpw@localhost/app",
            "SQLALCHEMY_DATABASE_URI of Flask app 'uri_app', '***', is not a"
            " database URL SQLAlchemy can read.",
        ),
        (
            "nosuchdb://app:s3cretpw@localhost/app?token=t0kenvalue",
            "SQLALCHEMY_DATABASE_URI of Flask app 'uri_app',"
            " 'nosuchdb://app:***@localhost/app?token=***', names the database"
            " 'nosuchdb', which SQLAlchemy does not know.",
        ),
        (
            "postgresql+nosuchdriver://app:s3cretpw@localhost/app",
            "SQLALCHEMY_DATABASE_URI of Flask app 'uri_app',"
            " 'postgresql+nosuchdriver://app:***@localhost/app', names the"
            " database 'postgresql+nosuchdriver', which SQLAlchemy does not know.",
        ),
        (
            "mysql+mysqldb://app:s3cretpw@localhost/app",
            # (then the python and the package: tests/test_missing_driver.py)
            "SQLALCHEMY_DATABASE_URI of Flask app 'uri_app': The database URL"
            " mysql+mysqldb://app:***@localhost/app needs the mysql+mysqldb"
            " driver, whose module 'MySQLdb' is not installed in the Python that"
            " runs alembic (",
        ),
    ],
)
def test_a_plain_sqlalchemy_uri_that_cannot_be_used(
    shapes: Project, uri: str, message: str
) -> None:
    shapes.set_ini_option("flask_app", "uri_app:create_app")
    shapes.env["SHAPES_DATABASE_URI"] = uri
    result = shapes.alembic("current", ok=False)
    assert result.stdout.startswith(f"FAILED: {message}")
    assert "Traceback" not in result.stderr
    output = shapes.output(result)
    assert "s3cretpw" not in output
    assert "t0kenvalue" not in output
