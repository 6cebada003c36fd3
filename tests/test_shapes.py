"""Flask-SQLAlchemy-Lite and plain SQLAlchemy apps, with flask_metadata."""

from __future__ import annotations

import importlib.util

import pytest

from harness import Project
from harness import ProjectFactory

needs_lite = pytest.mark.skipif(
    importlib.util.find_spec("flask_sqlalchemy_lite") is None,
    reason="Flask-SQLAlchemy-Lite is not installed (it needs Flask 3; the min"
    " environment pins Flask 2.2)",
)


@pytest.fixture
def shapes(project_factory: ProjectFactory) -> Project:
    project = project_factory("shapes")
    project.init()
    project.set_ini_option("flask_metadata", "shapes_models:Base.metadata")
    return project


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
    assert blog.tables() == {"user", "post", "alembic_version"}


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
            "no_such_models:Base.metadata",
            ": could not import module 'no_such_models'. Check the spelling, for"
            " example flask_metadata = yourpackage.models:Base.metadata.",
        ),
        (
            "shapes_models:Base.meta",
            ": 'meta' was not found in DeclarativeAttributeIntercept 'Base'. Name"
            " the metadata of your models, for example flask_metadata ="
            " yourpackage.models:Base.metadata.",
        ),
        (
            "shapes_models:not_metadata",
            " is a builtins.str, not a sqlalchemy MetaData. Name the metadata"
            " itself, for example flask_metadata = yourpackage.models:Base.metadata.",
        ),
    ],
)
def test_bad_flask_metadata(shapes: Project, value: str, message: str) -> None:
    shapes.set_ini_option("flask_app", "plain_app:create_app")
    shapes.set_ini_option("flask_metadata", value)
    expected = f"flask_metadata = {value!r} (from [alembic] in alembic.ini){message}"
    assert shapes.failure("upgrade", "head") == expected
