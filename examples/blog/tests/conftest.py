"""pytest-alembic fixtures: the migrations run against a throwaway SQLite
database, never against the database the app is configured with.

    pip install pytest-alembic
    pytest --test-alembic
"""

from pathlib import Path

import pytest
from sqlalchemy import create_engine

from alembic_flask_env import alembic_config as make_alembic_config

ALEMBIC_INI = Path(__file__).resolve().parent.parent / "alembic.ini"


@pytest.fixture
def alembic_config():
    return make_alembic_config(ALEMBIC_INI)


@pytest.fixture
def alembic_engine(tmp_path):
    # pytest-alembic hands this engine to env.py as
    # config.attributes["connection"]; the app still supplies the metadata.
    engine = create_engine(f"sqlite:///{tmp_path / 'migrations-test.db'}")
    yield engine
    engine.dispose()
