"""Fixtures: a mini-project from ``tests/projects/`` copied into ``tmp_path``."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import POSTGRESQL_URL_VARIABLE
from harness import PROJECTS
from harness import Project
from harness import ProjectFactory


@pytest.fixture
def project_factory(tmp_path: Path) -> ProjectFactory:
    def make(name: str, subdir: str = "project") -> Project:
        root = tmp_path / subdir
        shutil.copytree(PROJECTS / name, root)
        return Project(root)

    return make


@pytest.fixture
def blog(project_factory: ProjectFactory) -> Project:
    """The blog project, initialised with the flask template and flask_app set."""
    project = project_factory("blog")
    project.init()
    project.set_ini_option("flask_app", "blogapp:create_app")
    return project


@pytest.fixture
def postgresql_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test; its URL, password
    included (``.ci/start-postgresql`` makes one with ``%``, ``@`` and ``:``).
    """
    from sqlalchemy import create_engine
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    server = os.environ.get(POSTGRESQL_URL_VARIABLE)
    if not server:
        message = (
            f"{POSTGRESQL_URL_VARIABLE} is not set; start a server with"
            " 'eval \"$(sudo bash .ci/start-postgresql)\"' (see README)"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()
