"""Fixtures: a mini-project from ``tests/projects/`` copied into ``tmp_path``."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable
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
def postgresql_databases() -> Iterator[Callable[[], str]]:
    """Makes fresh, empty PostgreSQL databases for one test: each call
    returns a new one's URL, password included (``.ci/start-postgresql`` makes
    one with ``%``, ``@`` and ``:``). They are dropped after the test.
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
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    names: list[str] = []

    def make() -> str:
        name = f"test_{uuid.uuid4().hex[:12]}"
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        names.append(name)
        return make_url(server).set(database=name).render_as_string(hide_password=False)

    try:
        yield make
    finally:
        with admin.connect() as connection:
            for name in names:
                connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def postgresql_url(postgresql_databases: Callable[[], str]) -> str:
    """A fresh, empty PostgreSQL database for one test; its URL."""
    return postgresql_databases()


@pytest.fixture
def pg(blog: Project, postgresql_url: str) -> Project:
    """The blog project pointed at a fresh PostgreSQL database."""
    blog.env["BLOGAPP_DATABASE_URI"] = postgresql_url
    blog.postgresql_url = postgresql_url
    return blog
