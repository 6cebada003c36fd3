"""The exact message of each flask_metadata that leads to no MetaData, in
process, on the shapes project's models module.

tests/test_shapes.py shows the refusal end to end, through the ``alembic``
script, for a value that is not ``module:attribute`` and for a missing
attribute; the other values reach the same :func:`load_metadata`, so they
are checked here, where each costs no ``alembic`` process.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# Imported before isolated_imports takes its snapshot of sys.modules: a
# module it removes after a test and imported again registers SQLAlchemy's
# inspection hooks twice ("Type ... is already registered", SQLAlchemy 2.0).
import sqlalchemy.orm  # noqa: F401

from alembic_flask_env.app.metadata import load_metadata
from alembic_flask_env.errors import MetadataNotFound
from alembic_flask_env.settings import Setting

SHAPES = Path(__file__).resolve().parents[1] / "projects" / "shapes"
INI = "[alembic] in alembic.ini"


@pytest.fixture
def shapes_on_path(isolated_imports: None) -> None:
    """The project's directory first on sys.path, as the flask template's
    ``prepend_sys_path = %(here)s`` puts it.
    """
    sys.path.insert(0, str(SHAPES))


@pytest.mark.usefixtures("shapes_on_path")
@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "no_such_models:Base.metadata",
            ": could not import module 'no_such_models'. Check the spelling, for"
            " example flask_metadata = yourpackage.models:Base.metadata.",
        ),
        (
            # Named by its type and where it was reached, never by its repr,
            # which would print the SECRET_KEY.
            "shapes_models:settings.metadata",
            ": 'metadata' was not found in shapes_models:settings (a"
            " flask.config.Config). Name the metadata of your models, for example"
            " flask_metadata = yourpackage.models:Base.metadata.",
        ),
        (
            "shapes_models:not_metadata",
            " is a builtins.str, not a sqlalchemy MetaData. Name the metadata"
            " itself, for example flask_metadata = yourpackage.models:Base.metadata.",
        ),
    ],
)
def test_bad_flask_metadata(value: str, message: str) -> None:
    """(End to end: test_shapes, with 'shapes_models' and Base.meta.)"""
    with pytest.raises(MetadataNotFound) as raised:
        load_metadata(Setting("flask_metadata", value, INI))
    assert str(raised.value) == f"flask_metadata = {value!r} (from {INI}){message}"


@pytest.mark.usefixtures("shapes_on_path")
def test_the_named_metadata_is_loaded() -> None:
    metadata = load_metadata(
        Setting("flask_metadata", "shapes_models:Base.metadata", INI)
    )
    assert "gadget" in metadata.tables
