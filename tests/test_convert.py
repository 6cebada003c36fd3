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
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


def files(directory: Path) -> list[Path]:
    return sorted(path for path in directory.rglob("*") if path.is_file())


def flask_db(project: Project, app: str, *arguments: str) -> str:
    assert FLASK is not None
    return project.run(FLASK, "--app", app, "db", *arguments).stdout


@pytest.fixture
def flask_migrate_project(project_factory: ProjectFactory) -> Project:
    """The shop app after 'flask db init', 'flask db migrate', 'flask db upgrade'."""
    project = project_factory("migrated")
    for command in (["init"], ["migrate", "-m", "init"], ["upgrade"]):
        flask_db(project, "shop:create_app", *command)
    return project


@pytest.fixture
def flask_migrate_multidb_project(project_factory: ProjectFactory) -> Project:
    """The two-database depot app after 'flask db init --multidb', 'flask db
    migrate' and 'flask db upgrade'."""
    project = project_factory("migrated")
    for command in (["init", "--multidb"], ["migrate", "-m", "init"], ["upgrade"]):
        flask_db(project, "depot:create_app", *command)
    return project


def convert(project: Project, *arguments: str, ok: bool = True) -> str:
    result = project.run(
        sys.executable, "-m", "alembic_flask_env", "convert", *arguments, ok=ok
    )
    return project.output(result)


def assert_refused(project: Project, message: str, *arguments: str) -> None:
    """Conversion fails with ``FAILED: message`` and changes no file."""
    before = digest(files(project.root))
    assert f"FAILED: {message}" in convert(project, *arguments, ok=False)
    assert digest(files(project.root)) == before


def test_alembic_reports_what_flask_db_did_and_keeps_working(
    flask_migrate_project: Project,
) -> None:
    project = flask_migrate_project
    flask_current = flask_db(project, "shop:create_app", "current")
    [revision_id] = project.version("shop.db")
    assert f"{revision_id} (head)" in flask_current
    old_env = (project.root / "migrations" / "env.py").read_text()
    revisions = project.revision_files()
    before = digest([*revisions, project.database("shop.db")])

    output = convert(project, "migrations", "--app", "shop:create_app")
    assert f"wrote {project.root / 'alembic.ini'}" in output
    assert not (project.root / "migrations" / "alembic.ini").exists()
    assert "alembic_flask_env" in (project.root / "migrations" / "env.py").read_text()
    backup = project.root / "migrations" / "env.py.flask-migrate"
    assert f"kept the old file as {backup}" in output
    assert backup.read_text() == old_env

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
    assert_refused(
        project,
        f"{project.root / 'alembic.ini'} already exists, and converting would"
        " replace it. Move it aside (or merge it by hand) and run again.",
    )


def test_not_a_migrations_folder(project_factory: ProjectFactory) -> None:
    project = project_factory("migrated")
    assert_refused(
        project,
        f"{project.root / 'shop'} is not a migrations folder (no env.py and"
        " versions/). Pass the folder 'flask db init' created, by default"
        " 'migrations'.",
        "shop",
    )


def test_a_multidb_folder_keeps_flask_migrates_revisions_working(
    flask_migrate_multidb_project: Project,
) -> None:
    project = flask_migrate_multidb_project
    migrations = project.root / "migrations"
    [revision_id] = project.version("depot.db")
    assert project.version("stock.db") == [revision_id]
    assert "def upgrade_():" in project.revision_files()[0].read_text()
    flask_current = flask_db(project, "depot:create_app", "current")
    revisions = project.revision_files()
    databases = [project.database("depot.db"), project.database("stock.db")]
    before = digest([*revisions, *databases])

    output = convert(project, "--app", "depot:create_app")
    assert f"wrote {migrations / 'script.py.mako'}" in output
    assert 'default_engine_name=""' in (migrations / "env.py").read_text()
    assert "current_app" in (migrations / "script.py.mako.flask-migrate").read_text()
    assert project.alembic("current").stdout == flask_current
    assert digest([*revisions, *databases]) == before
    assert "converted already" in convert(project)

    # No change in any bind: no revision file.
    project.alembic("revision", "--autogenerate", "-m", "nothing")
    assert project.revision_files() == revisions

    models = project.root / "depot" / "models.py"
    models.write_text(
        models.read_text()
        + "\n\nclass Note(db.Model):\n"
        + "    id = db.Column(db.Integer, primary_key=True)\n"
        + "\n\nclass Crate(db.Model):\n"
        + '    __bind_key__ = "stock"\n'
        + "    id = db.Column(db.Integer, primary_key=True)\n"
    )
    project.alembic("revision", "--autogenerate", "-m", "more")
    [new_revision] = set(project.revision_files()) - set(revisions)
    source = new_revision.read_text()
    # The default bind keeps Flask-Migrate's name, so old and new revisions
    # form one history.
    assert "def upgrade_() -> None:" in source
    assert "def upgrade_default" not in source
    assert source.index("create_table('note'") < source.index("def downgrade_()")
    assert "create_table('crate'" in source.split("def upgrade_stock()")[1]

    project.alembic("upgrade", "head")
    assert project.tables("depot.db") == {"order", "note", "alembic_version"}
    assert project.tables("stock.db") == {"pallet", "crate", "alembic_version"}

    # Down through Flask-Migrate's own revision too.
    project.alembic("downgrade", "base")
    assert project.tables("depot.db") == {"alembic_version"}
    assert project.tables("stock.db") == {"alembic_version"}
    assert project.version("depot.db") == project.version("stock.db") == []


def test_an_asyncio_folder_is_refused(project_factory: ProjectFactory) -> None:
    project = project_factory("migrated")
    flask_db(project, "shop:create_app", "init", "-t", "aioflask")
    assert_refused(
        project,
        f"{project.root / 'migrations' / 'env.py'} is Flask-Migrate's asyncio"
        " env.py ('flask db init -t aioflask'), and alembic_flask_env migrates"
        " over synchronous engines only. Keep using 'flask db' for this folder.",
    )


def test_what_conversion_would_overwrite_stops_it_before_any_change(
    flask_migrate_project: Project,
) -> None:
    project = flask_migrate_project
    migrations = project.root / "migrations"
    folder_ini = migrations / "alembic.ini"
    folder_ini.write_text(
        folder_ini.read_text().replace(
            "[alembic]\n", "[alembic]\nscript_location = elsewhere\n", 1
        )
    )
    assert_refused(
        project,
        f"{folder_ini} sets script_location in [alembic] already, and converting"
        " writes those keys itself. Remove them from it and run again",
    )

    folder_ini.write_text(
        folder_ini.read_text().replace("script_location = elsewhere\n", "")
    )
    (migrations / "env.py.flask-migrate").write_text("# mine\n")
    assert_refused(
        project,
        f"{migrations / 'env.py.flask-migrate'} already exists, and converting"
        " would replace it with the old env.py. Move it aside and run again.",
    )


def test_a_folder_of_another_alembic_setup_is_refused(
    project_factory: ProjectFactory,
) -> None:
    project = project_factory("migrated")
    project.alembic("init", "-t", "generic", "migrations")
    assert_refused(
        project,
        f"{project.root / 'migrations' / 'env.py'} is not Flask-Migrate's env.py."
        " Only folders created by 'flask db init' are converted.",
    )


def test_a_missing_alembic_ini_is_named(flask_migrate_project: Project) -> None:
    folder_ini = flask_migrate_project.root / "migrations" / "alembic.ini"
    folder_ini.unlink()
    assert_refused(
        flask_migrate_project,
        f"{folder_ini} is missing; 'flask db init' writes it. Restore it and run"
        " again.",
    )


def test_an_unreadable_alembic_ini_is_named(flask_migrate_project: Project) -> None:
    folder_ini = flask_migrate_project.root / "migrations" / "alembic.ini"
    ini = folder_ini.read_text()
    folder_ini.write_text(ini + "\n[alembic]\n")
    line = len(ini.splitlines()) + 2
    assert_refused(
        flask_migrate_project,
        f"{folder_ini} cannot be read (While reading from {str(folder_ini)!r}"
        f" [line {line:2d}]: section 'alembic' already exists). Fix it and run"
        " again.",
    )
