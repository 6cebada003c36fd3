"""Converting a real 'flask db init' folder to plain alembic."""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from alembic.command import init as alembic_init
from alembic.config import Config

from alembic_flask_env.convert.folder import convert as convert_folder
from alembic_flask_env.errors import ConversionError

from harness import BIN_DIR
from harness import PROJECTS
from harness import Project
from harness import ProjectFactory

FLASK = shutil.which("flask", path=str(BIN_DIR))

pytestmark = pytest.mark.slow


def digest(paths: list[Path]) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


def files(directory: Path) -> list[Path]:
    return sorted(path for path in directory.rglob("*") if path.is_file())


def flask_db(project: Project, app: str, *arguments: str) -> str:
    assert FLASK is not None
    return project.run(FLASK, "--app", app, "db", *arguments).stdout


@pytest.fixture(scope="session")
def flask_migrated_shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shop app after 'flask db init', 'flask db migrate', 'flask db
    upgrade', made once per session (and xdist worker) and then only copied,
    as conftest's ``initialised_projects`` does for 'alembic init': most
    tests here start from it, and it costs three 'flask' subprocesses. (The
    folder, the revision and shop.db name no absolute path, so a copy is the
    same start state.)
    """
    root = tmp_path_factory.mktemp("flask-migrated-shop") / "project"
    shutil.copytree(PROJECTS / "migrated", root)
    project = Project(root)
    for command in (["init"], ["migrate", "-m", "init"], ["upgrade"]):
        flask_db(project, "shop:create_app", *command)
    return root


@pytest.fixture
def flask_migrate_project(flask_migrated_shop: Path, tmp_path: Path) -> Project:
    """The shop app after 'flask db init', 'flask db migrate', 'flask db upgrade'."""
    root = tmp_path / "project"
    # Without the bytecode: it names the files where they were compiled.
    shutil.copytree(
        flask_migrated_shop, root, ignore=shutil.ignore_patterns("__pycache__")
    )
    return Project(root)


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
    # The same lines, each labelled with its bind.
    assert project.alembic("current").stdout == (
        f"default: {revision_id} (head)\nstock: {revision_id} (head)\n"
    )
    assert flask_current == f"{revision_id} (head)\n{revision_id} (head)\n"
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
            "[alembic]\n", "[alembic]\nprepend_sys_path = elsewhere\n", 1
        )
    )
    assert_refused(
        project,
        f"{folder_ini} sets prepend_sys_path in [alembic] already, and converting"
        " writes those keys itself. Remove them from it and run again",
    )

    folder_ini.write_text(
        folder_ini.read_text().replace("prepend_sys_path = elsewhere\n", "")
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
    # Alembic's own init, in process: the folder is the start state, not
    # what is tested.
    alembic_init(
        Config(str(project.root / "alembic.ini")),
        str(project.root / "migrations"),
        template="generic",
    )
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


def test_a_folder_inside_the_package_converts_to_an_ini_at_the_project_root(
    project_factory: ProjectFactory, tmp_path: Path
) -> None:
    """ihatemoney's layout: Migrate(app, db, directory=<package>/migrations),
    revisions that import the package, and a 'script_location = .' that
    Flask-Migrate always overrode.
    """
    project = project_factory("inpkg")
    for command in (["init"], ["migrate", "-m", "init"], ["upgrade"]):
        flask_db(project, "money:create_app", *command)
    migrations = project.root / "money" / "migrations"
    [revision] = sorted((migrations / "versions").glob("*.py"))
    revision.write_text("import money  # noqa: F401\n" + revision.read_text())
    folder_ini = migrations / "alembic.ini"
    folder_ini.write_text(
        folder_ini.read_text().replace(
            "[alembic]\n", "[alembic]\nscript_location = .\n"
        )
    )
    flask_current = flask_db(project, "money:create_app", "current")
    flask_history = flask_db(project, "money:create_app", "history")
    [revision_id] = project.version("money.db")
    assert f"{revision_id} (head)" in flask_current

    output = convert(project, "money/migrations", "--app", "money:create_app")
    ini = project.root / "alembic.ini"
    assert f"wrote {ini}" in output
    assert (
        "replaced 'script_location = .' of the old alembic.ini: Flask-Migrate"
        " ignored it (it always uses the migrations folder)" in output
    )
    assert (
        f"Now run 'alembic current' in {project.root} (or 'alembic -c {ini}"
        " current' from anywhere)" in output
    )
    assert "script_location = %(here)s/money/migrations\n" in ini.read_text()
    assert "script_location = .\n" not in ini.read_text()
    assert not (project.root / "money" / "alembic.ini").exists()

    assert project.alembic("current").stdout == flask_current
    assert project.alembic("history").stdout == flask_history
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert project.alembic("-c", str(ini), "current", cwd=elsewhere).stdout == (
        flask_current
    )
    assert project.alembic("-c", str(ini), "history", cwd=elsewhere).stdout == (
        flask_history
    )
    assert list(elsewhere.iterdir()) == []

    models = project.root / "money" / "models.py"
    models.write_text(
        models.read_text()
        + "\n\nclass Payer(db.Model):\n"
        + "    id = db.Column(db.Integer, primary_key=True)\n"
    )
    project.alembic(
        "-c", str(ini), "revision", "--autogenerate", "-m", "payer", cwd=elsewhere
    )
    project.alembic("-c", str(ini), "upgrade", "head", cwd=elsewhere)
    assert project.tables("money.db") == {"bill", "payer", "alembic_version"}
    assert len(list((migrations / "versions").glob("*.py"))) == 2


needs_flask_alembic = pytest.mark.skipif(
    importlib.util.find_spec("flask_alembic") is None,
    reason="Flask-Alembic is not installed (it needs Flask 3; the min environment"
    " pins Flask 2.2)",
)


@needs_flask_alembic
def test_the_manual_route_for_a_flask_alembic_project_with_two_heads(
    project_factory: ProjectFactory,
) -> None:
    """FlaskBB's layout (Flask-Alembic: revisions in the package, branch
    labels, several heads, no env.py) is not a 'flask db init' folder; the
    README's manual route takes it to plain alembic as it is.
    """
    project = project_factory("flaskalembic")
    heads = project.python("make_history.py").stdout.splitlines()[-1].split()
    assert len(heads) == 2
    assert sorted(project.version("board.db")) == heads
    versions = project.root / "board" / "migrations"
    revisions = sorted(versions.glob("*.py"))
    assert len(revisions) == 2
    before = digest([*revisions, project.database("board.db")])
    assert_refused(
        project,
        f"{project.root / 'board' / 'migrations'} is not a migrations folder (no"
        " env.py and versions/).",
        "board/migrations",
    )

    # The README's steps: init, flask_app, version_locations.
    project.init()
    project.set_ini_option("flask_app", "board:create_app")
    project.set_ini_option("version_locations", "%(here)s/board/migrations")
    (project.root / "migrations" / "versions").rmdir()

    current = project.alembic("current").stdout.split("\n")
    assert sorted(line.split()[0] for line in current if line) == heads
    listed = project.alembic("heads").stdout
    assert "(default) (head)" in listed
    assert "(extra) (head)" in listed
    project.alembic("check")
    project.alembic("upgrade", "heads")
    assert digest([*revisions, project.database("board.db")]) == before

    models = project.root / "board" / "models.py"
    models.write_text(
        models.read_text() + "\n\nclass Tag(db.Model):\n"
        "    id = db.Column(db.Integer, primary_key=True)\n"
    )
    project.alembic("revision", "--autogenerate", "-m", "tag", "--head", "default@head")
    [new] = set(versions.glob("*.py")) - set(revisions)
    project.alembic("upgrade", "heads")
    assert project.tables("board.db") == {"topic", "tag", "alembic_version"}
    assert project.query("board.db", "PRAGMA user_version") == [(7,)]
    assert new.name.split("_")[0] in project.version("board.db")


def test_without_app_flask_app_stays_empty_and_the_output_says_so(
    flask_migrate_project: Project,
) -> None:
    project = flask_migrate_project
    output = convert(project)
    ini = project.root / "alembic.ini"
    assert f"Set flask_app in {ini}, or keep FLASK_APP set." in output
    assert "\nflask_app = \n" in ini.read_text()
    project.env["FLASK_APP"] = "shop:create_app"
    assert " (head)" in project.alembic("current").stdout


# -- Hostile folders and arguments: converted right, or refused unchanged ------


def test_a_file_that_is_not_utf8_is_refused(
    flask_migrate_project: Project, flask_migrated_shop: Path, tmp_path: Path
) -> None:
    """env.py through the command; alembic.ini, read by the same
    ``read_text``, through the command's ``convert`` in process, on a
    second copy of the folder.
    """

    def spoiled(root: Path, name: str) -> str:
        path = root / "migrations" / name
        path.write_bytes(path.read_bytes() + b"\n# caf\xe9\n")
        offset = len(path.read_bytes()) - 2
        return (
            f"{path} is not UTF-8 text (byte 0xe9 at offset {offset}), so it"
            " cannot be converted safely. Save it as UTF-8 and run again."
        )

    message = spoiled(flask_migrate_project.root, "env.py")
    assert_refused(flask_migrate_project, message, "migrations")

    root = tmp_path / "second"
    shutil.copytree(flask_migrated_shop, root)
    message = spoiled(root, "alembic.ini")
    before = digest(files(root))
    with pytest.raises(ConversionError) as raised:
        convert_folder(root / "migrations")
    assert str(raised.value) == message
    assert digest(files(root)) == before


def test_a_line_break_in_app_is_refused(flask_migrate_project: Project) -> None:
    assert_refused(
        flask_migrate_project,
        "--app 'shop:create_app\\nscript_location = /elsewhere' has a line break,"
        " which would end the flask_app line of alembic.ini and start another.",
        "migrations",
        "--app",
        "shop:create_app\nscript_location = /elsewhere",
    )


def test_a_percent_in_the_app_and_the_folder_name(
    flask_migrate_project: Project,
) -> None:
    """(Flask-Migrate itself cannot init such a folder; a renamed one works
    under 'flask db -d', which never reads script_location.)
    """
    project = flask_migrate_project
    (project.root / "migrations").rename(project.root / "100%migrations")
    shutil.copy(project.database("shop.db"), project.database("100%.db"))
    convert(project, "100%migrations", "--app", "shop:create_app('100%.db')")
    ini = (project.root / "alembic.ini").read_text()
    assert "script_location = %(here)s/100%%migrations\n" in ini
    assert "flask_app = shop:create_app('100%%.db')\n" in ini
    assert " (head)" in project.alembic("current").stdout


def test_a_symlinked_folder_converts_where_it_is_linked_from(
    flask_migrate_project: Project,
) -> None:
    project = flask_migrate_project
    (project.root / "store").mkdir()
    (project.root / "migrations").rename(project.root / "store" / "migrations")
    (project.root / "migrations").symlink_to(project.root / "store" / "migrations")
    convert(project, "migrations", "--app", "shop:create_app")
    assert (project.root / "alembic.ini").is_file()
    assert not (project.root / "store" / "alembic.ini").exists()
    assert (
        "script_location = %(here)s/migrations\n"
        in (project.root / "alembic.ini").read_text()
    )
    assert " (head)" in project.alembic("current").stdout


def _header_with_spaces(ini: str) -> str:
    return ini.replace("[alembic]\n", "[alembic]  \n")


def _no_final_newline(ini: str) -> str:
    """The section last, its header the file's last line, with no newline."""
    return ini.replace("[alembic]\n", "", 1).rstrip("\n") + "\n\n[alembic]"


def _upper_case_key(ini: str) -> str:
    return ini.replace("[alembic]\n", "[alembic]\nSCRIPT_LOCATION = .\n")


@pytest.mark.parametrize(
    ("edit", "replaced", "through_the_command"),
    [
        (_header_with_spaces, None, False),
        (_no_final_newline, None, False),
        (_upper_case_key, "SCRIPT_LOCATION = .", True),
    ],
    ids=["header-with-spaces", "no-final-newline", "upper-case-key"],
)
def test_ini_spellings_configparser_accepts(
    flask_migrate_project: Project,
    edit: Callable[[str], str],
    replaced: str | None,
    through_the_command: bool,
) -> None:
    """Each converted ini is read by the real 'alembic current'. One
    spelling is converted by the command, which prints what it replaced;
    the others by its ``convert`` in process (the same code, without the
    subprocess).
    """
    ini = flask_migrate_project.root / "migrations" / "alembic.ini"
    ini.write_text(edit(ini.read_text()))
    if through_the_command:
        output = convert(
            flask_migrate_project, "migrations", "--app", "shop:create_app"
        )
        assert f"replaced '{replaced}' of the old alembic.ini" in output
    else:
        result = convert_folder(ini.parent, "shop:create_app")
        assert result.replaced == ([replaced] if replaced else [])
    new = (flask_migrate_project.root / "alembic.ini").read_text()
    assert new.count("[alembic]") == 1
    assert " (head)" in flask_migrate_project.alembic("current").stdout


def test_a_comment_about_asyncio_is_no_aioflask_env(
    flask_migrate_project: Project,
) -> None:
    env_py = flask_migrate_project.root / "migrations" / "env.py"
    env_py.write_text("# We do not use asyncio here.\n" + env_py.read_text())
    convert(flask_migrate_project, "migrations", "--app", "shop:create_app")
    assert " (head)" in flask_migrate_project.alembic("current").stdout


def test_options_the_old_env_py_passed_are_named_with_their_line(
    flask_migrate_project: Project,
) -> None:
    """As zou's env.py does: render_item and include_object given to
    context.configure() directly, not through Migrate(...).
    """
    env_py = flask_migrate_project.root / "migrations" / "env.py"
    source = env_py.read_text()
    assert "target_metadata=get_metadata(),\n" in source
    source = source.replace(
        "target_metadata=get_metadata(),\n",
        "target_metadata=get_metadata(),\n"
        "            render_item=render_item,\n"
        "            compare_server_default=True,\n",
        1,
    )
    env_py.write_text("def render_item(*args):\n    return False\n\n\n" + source)
    lines = env_py.read_text().splitlines()
    line = next(n for n, text in enumerate(lines, 1) if "render_item=" in text)
    output = convert(flask_migrate_project, "migrations", "--app", "shop:create_app")
    for name, at in (("render_item", line), ("compare_server_default", line + 1)):
        assert (
            f"{env_py} (line {at}) passed {name}= to context.configure(), which"
            " the new env.py does not: to keep it, pass"
            f" run_migrations({name}=...) in the new env.py, defining (or"
            " importing) it there as the old file did" in output
        )
    assert "passed connection=" not in output
    assert "passed target_metadata=" not in output


def test_every_line_the_new_env_py_does_not_run_is_named(
    flask_migrate_project: Project,
) -> None:
    """An import for its side effect (an op plugin that registers
    op.sync_enum_values), code at the top, a statement added to a stock
    function: each named with its line; Flask-Migrate's own lines are not.
    """
    env_py = flask_migrate_project.root / "migrations" / "env.py"
    source = env_py.read_text()
    anchor = "    with connectable.connect() as connection:\n"
    assert anchor in source
    source = source.replace(
        anchor,
        anchor + "        connection.exec_driver_sql('SET search_path TO shop')\n",
        1,
    )
    env_py.write_text(
        "import enum_sync  # registers op.sync_enum_values\n"
        "from shop import audit\n"
        + source
        + "\nlogging.getLogger('sqlalchemy.engine').setLevel(logging.INFO)\n"
    )
    lines = env_py.read_text().splitlines()

    def line_of(text: str) -> int:
        return next(n for n, line in enumerate(lines, 1) if text in line)

    output = convert(flask_migrate_project, "migrations", "--app", "shop:create_app")
    for text in ("import enum_sync", "from shop import audit"):
        assert (
            f"{env_py} (line {line_of(text)}) ran '{lines[line_of(text) - 1]}',"
            " which the new env.py does not: if the revisions or the app need it"
            " (an operation plugin registers its op.* functions when imported),"
            " add the import to the new env.py (python -m alembic_flask_env lint"
            " imports what env.py imports)" in output
        )
    search_path = line_of("SET search_path")
    assert (
        f"{env_py} (line {search_path}) ran"
        " 'connection.exec_driver_sql('SET search_path TO shop')' in"
        " run_migrations_online(), which the new env.py does not: carry it over"
        " by hand if it is still needed" in output
    )
    setlevel = line_of("setLevel")
    assert f"{env_py} (line {setlevel}) ran 'logging.getLogger(" in output
    assert output.count(" which the new env.py does not") == 4, output
