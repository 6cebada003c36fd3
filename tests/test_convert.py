"""Converting a real 'flask db init' folder to plain alembic."""

from __future__ import annotations

import hashlib
import shutil
import sys
from pathlib import Path

import pytest

from harness import BIN_DIR
from harness import Project
from harness import ProjectFactory

FLASK = shutil.which("flask", path=str(BIN_DIR))


def digest(paths: list[Path]) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


@pytest.fixture
def flask_migrate_project(project_factory: ProjectFactory) -> Project:
    """The shop app after 'flask db init', 'flask db migrate', 'flask db upgrade'."""
    assert FLASK is not None
    project = project_factory("migrated")
    for command in (["init"], ["migrate", "-m", "init"], ["upgrade"]):
        project.run(FLASK, "--app", "shop:create_app", "db", *command)
    return project


def convert(project: Project, *arguments: str, ok: bool = True) -> str:
    result = project.run(
        sys.executable, "-m", "alembic_flask_env", "convert", *arguments, ok=ok
    )
    return project.output(result)


def test_alembic_reports_what_flask_db_did_and_keeps_working(
    flask_migrate_project: Project,
) -> None:
    project = flask_migrate_project
    assert FLASK is not None
    flask_current = project.run(FLASK, "--app", "shop:create_app", "db", "current")
    [revision_id] = project.version("shop.db")
    assert f"{revision_id} (head)" in flask_current.stdout
    revisions = project.revision_files()
    before = digest([*revisions, project.database("shop.db")])

    output = convert(project, "migrations", "--app", "shop:create_app")
    assert f"wrote {project.root / 'alembic.ini'}" in output
    assert not (project.root / "migrations" / "alembic.ini").exists()
    assert "alembic_flask_env" in (project.root / "migrations" / "env.py").read_text()

    assert f"{revision_id} (head)" in project.alembic("current").stdout
    assert digest([*revisions, project.database("shop.db")]) == before

    # Converting again changes nothing.
    ini = (project.root / "alembic.ini").read_text()
    assert "converted already" in convert(project, "migrations")
    assert (project.root / "alembic.ini").read_text() == ini

    # And plain alembic carries on.
    models = project.root / "shop" / "models.py"
    models.write_text(
        models.read_text()
        + "\n\nclass Note(db.Model):\n"
        + "    id = db.Column(db.Integer, primary_key=True)\n"
    )
    project.alembic("revision", "--autogenerate", "-m", "note")
    project.alembic("upgrade", "head")
    assert project.tables("shop.db") == {"item", "note", "alembic_version"}


def test_an_unrelated_alembic_ini_is_not_overwritten(
    flask_migrate_project: Project,
) -> None:
    project = flask_migrate_project
    (project.root / "alembic.ini").write_text("[alembic]\n# mine\n")
    output = convert(project, "migrations", ok=False)
    assert (
        f"FAILED: {project.root / 'alembic.ini'} already exists, and converting"
        " would replace it. Move it aside (or merge it by hand) and run again."
        in output
    )
    assert (project.root / "alembic.ini").read_text() == "[alembic]\n# mine\n"
    assert (project.root / "migrations" / "alembic.ini").exists()


def test_not_a_migrations_folder(project_factory: ProjectFactory) -> None:
    project = project_factory("migrated")
    output = convert(project, "shop", ok=False)
    assert (
        f"FAILED: {project.root / 'shop'} is not a migrations folder (no env.py"
        " and versions/). Pass the folder 'flask db init' created, by default"
        " 'migrations'." in output
    )
