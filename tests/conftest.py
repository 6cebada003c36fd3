"""Fixtures: a mini-project from ``tests/projects/`` copied into ``tmp_path``."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

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
