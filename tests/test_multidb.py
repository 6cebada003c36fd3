"""The flask-multidb template: every Flask-SQLAlchemy bind in one run."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy.engine import make_url

from harness import LEDGER_TABLE
from harness import Project
from harness import autogenerate
from start_states import StartStates
from start_states import run_autogenerate
from start_states import run_upgrade


@pytest.fixture
def generated(multiblog: Project, start_states: StartStates) -> Project:
    """The two-bind blog as autogenerate leaves it: one revision, and an
    empty alembic_version in each bind's database (made once per session,
    then copied; test_one_revision_migrates_every_bind... runs it).
    """
    start_states.restore(multiblog, "multiblog-generated", run_autogenerate)
    [revision] = multiblog.revision_files()
    assert "def upgrade_users() -> None:" in revision.read_text()
    return multiblog


@pytest.fixture
def upgraded(multiblog: Project, start_states: StartStates) -> Project:
    """The two-bind blog after autogenerate and ``alembic upgrade head``
    (made once per session, then copied).
    """
    start_states.restore(
        multiblog,
        "multiblog-upgraded",
        run_upgrade,
        base=("multiblog-generated", run_autogenerate),
    )
    [revision] = multiblog.revision_files()
    for name in ("main.db", "users.db"):
        assert multiblog.version(name) == [revision.name.split("_")[0]]
    return multiblog


def test_listed_and_written_by_init(multiblog: Project) -> None:
    listing = multiblog.alembic("list_templates").stdout
    assert (
        "flask-multidb - Flask application with several Flask-SQLAlchemy binds"
        " (SQLALCHEMY_BINDS), one revision for all (alembic_flask_env)." in listing
    )
    ini = (multiblog.root / "alembic.ini").read_text()
    assert "\nflask_binds =\n" in ini
    assert "\nrevision_environment = true\n" in ini


def test_one_revision_migrates_every_bind_into_its_own_database(
    multiblog: Project,
) -> None:
    output = autogenerate(multiblog)
    assert "Detected added table 'post'" in output
    assert "Detected added table 'account'" in output
    [revision] = multiblog.revision_files()
    source = revision.read_text()
    assert "def upgrade_default() -> None:" in source
    assert "def upgrade_users() -> None:" in source
    revision_id = revision.name.split("_")[0]

    multiblog.alembic("upgrade", "head")
    assert multiblog.tables("main.db") == {"post", "alembic_version"}
    assert multiblog.tables("users.db") == {"account", "alembic_version"}
    assert multiblog.version("main.db") == [revision_id]
    assert multiblog.version("users.db") == [revision_id]

    multiblog.alembic("downgrade", "base")
    assert multiblog.tables("main.db") == {"alembic_version"}
    assert multiblog.tables("users.db") == {"alembic_version"}


def test_no_revision_when_no_bind_changed(upgraded: Project) -> None:
    multiblog = upgraded
    assert "No changes in schema detected." in autogenerate(multiblog, "nothing")
    assert len(multiblog.revision_files()) == 1


def test_a_plain_revision_has_a_function_per_bind(multiblog: Project) -> None:
    multiblog.alembic("revision", "-m", "by hand")
    [revision] = multiblog.revision_files()
    source = revision.read_text()
    for function in ("upgrade_default", "downgrade_default", "upgrade_users"):
        assert f"def {function}() -> None:" in source


def test_flask_binds_restricts_the_run(generated: Project) -> None:
    multiblog = generated
    multiblog.alembic("-x", "flask_binds=users", "upgrade", "head")
    assert multiblog.tables("users.db") == {"account", "alembic_version"}
    # (autogenerate made an empty alembic_version in each bind)
    assert "post" not in multiblog.tables("main.db")
    assert multiblog.version("main.db") == []

    multiblog.set_ini_option("flask_binds", "default")
    multiblog.alembic("upgrade", "head")
    assert multiblog.tables("main.db") == {"post", "alembic_version"}


def test_current_labels_each_bind_and_shows_binds_at_base(
    generated: Project,
) -> None:
    multiblog = generated
    [revision] = multiblog.revision_files()
    revision_id = revision.name.split("_")[0]
    assert multiblog.alembic("current").stdout == ("default: <base>\nusers: <base>\n")
    multiblog.alembic("-x", "flask_binds=users", "upgrade", "head")
    assert multiblog.alembic("current").stdout == (
        f"default: <base>\nusers: {revision_id} (head)\n"
    )


def test_history_is_printed_once_not_once_per_bind(generated: Project) -> None:
    multiblog = generated
    multiblog.alembic("revision", "-m", "second")
    first, second = (
        p.name.split("_")[0]
        for p in sorted(multiblog.revision_files(), key=lambda p: "second" in p.name)
    )
    assert multiblog.alembic("history").stdout == (
        f"{first} -> {second} (head), second\n<base> -> {first}, init\n"
    )
    multiblog.alembic("upgrade", "head")
    assert multiblog.alembic("history", "-i").stdout.count("(current)") == 1


def test_an_unknown_bind_is_a_clear_error(multiblog: Project) -> None:
    result = multiblog.alembic(
        "-x", "flask_binds=users, nope", "upgrade", "head", ok=False
    )
    assert (
        "FAILED: flask_binds = 'users, nope' (from -x flask_binds=...) names"
        " 'nope', which is not a bind of the app. Its binds are: default, users."
        " Set flask_binds to some of them, separated by commas, or leave it"
        " empty for all." in result.stdout
    )
    assert multiblog.tables("users.db") == set()


def test_offline_sql_is_labelled_by_bind(generated: Project) -> None:
    multiblog = generated
    for name in ("main.db", "users.db"):
        multiblog.database(name).unlink()
    output = multiblog.alembic("upgrade", "head", "--sql").stdout
    default_header = f"-- Bind 'default': sqlite:///{multiblog.database('main.db')}"
    users_header = f"-- Bind 'users': sqlite:///{multiblog.database('users.db')}"
    default_part, users_part = output.split(users_header)
    assert default_header in default_part
    assert "CREATE TABLE post" in default_part
    assert "CREATE TABLE account" not in default_part
    assert "CREATE TABLE account" in users_part
    assert "CREATE TABLE post" not in users_part
    assert not multiblog.database("main.db").exists()


def test_a_failing_bind_stops_the_run_and_is_named(upgraded: Project) -> None:
    multiblog = upgraded
    first = multiblog.version("main.db")
    multiblog.alembic("revision", "-m", "breaks users")
    [new] = [p for p in multiblog.revision_files() if "breaks_users" in p.name]
    source = new.read_text()
    marker = "def upgrade_users() -> None:\n"
    assert marker in source
    new.write_text(
        source.replace(
            marker, marker + "    op.execute('SELECT * FROM no_such_table')\n"
        )
    )

    result = multiblog.alembic("upgrade", "head", ok=False)
    assert (
        "Migrating bind 'users' failed; its transaction was rolled back. Binds"
        " migrated before it in this run: 'default'." in result.stderr
    )
    assert "no such table: no_such_table" in result.stderr
    assert "Traceback (most recent call last):" in result.stderr
    assert multiblog.version("users.db") == first
    assert multiblog.version("main.db") == [new.name.split("_")[0]]


@pytest.mark.parametrize(
    "command", [("check",), ("revision", "--autogenerate", "-m", "again")]
)
def test_a_command_that_migrates_nothing_does_not_say_a_migration_failed(
    generated: Project, command: tuple[str, ...]
) -> None:
    """``alembic check`` (or autogenerate) on binds behind the head fails
    with Alembic's own message; the log names the bind, and does not claim
    a migration failed and was rolled back.
    """
    multiblog = generated
    result = multiblog.alembic(*command, ok=False)
    output = multiblog.output(result)
    assert "FAILED: Target database is not up to date." in output
    assert "Migrating bind" not in output
    assert "rolled back" not in output
    assert (
        "Bind 'default' failed; this command migrates nothing, so no database"
        " was changed." in output
    )


def test_a_handed_in_connection_is_refused(multiblog: Project) -> None:
    script = multiblog.root / "script.py"
    script.write_text(
        "from alembic import command\n"
        "from alembic.util import CommandError\n"
        "from sqlalchemy import create_engine\n"
        "from alembic_flask_env import alembic_config\n"
        "\n"
        "engine = create_engine('sqlite:///other.db')\n"
        "try:\n"
        "    command.upgrade(alembic_config(connection=engine), 'head')\n"
        "except CommandError as error:\n"
        "    print(error)\n"
        "engine.dispose()\n"
    )
    output = multiblog.python(str(script)).stdout
    assert output.strip() == (
        "config.attributes['connection'] is set, but the flask-multidb"
        " environment migrates one database per bind and cannot use a single"
        " connection. Leave it unset."
    )
    assert not multiblog.database("main.db").exists()


def pg_tables_and_version(url: str) -> tuple[set[str], list[str]]:
    from sqlalchemy import create_engine
    from sqlalchemy import inspect
    from sqlalchemy import text

    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            tables = set(inspect(connection).get_table_names()) - {LEDGER_TABLE}
            query = text("SELECT version_num FROM alembic_version")
            versions = [row[0] for row in connection.execute(query)]
        return tables, versions
    finally:
        engine.dispose()


@pytest.mark.postgresql
def test_on_postgresql_a_failing_bind_rolls_back_only_its_own_work(
    multiblog: Project, postgresql_databases: Callable[[], str]
) -> None:
    main_url, users_url = postgresql_databases(), postgresql_databases()
    multiblog.env["MULTIBLOG_DATABASE_URI"] = main_url
    multiblog.env["MULTIBLOG_USERS_URI"] = users_url
    autogenerate(multiblog)
    multiblog.alembic("upgrade", "head")
    [first] = pg_tables_and_version(users_url)[1]

    # A revision that creates a table in each bind, then fails in 'users'.
    multiblog.alembic("revision", "-m", "audit")
    [new] = [p for p in multiblog.revision_files() if "audit" in p.name]
    source = new.read_text()
    for bind, then in (("default", ""), ("users", FAILING_STATEMENT)):
        marker = f"def upgrade_{bind}() -> None:\n"
        create = f"    op.create_table('audit_{bind}', sa.Column('id', sa.Integer))\n"
        source = source.replace(marker, marker + create + then)
    new.write_text(source)
    new_id = new.name.split("_")[0]

    result = multiblog.alembic("upgrade", "head", ok=False)
    assert (
        "Migrating bind 'users' failed; its transaction was rolled back. Binds"
        " migrated before it in this run: 'default'." in result.stderr
    )
    assert 'relation "no_such_table" does not exist' in result.stderr
    # The failing bind's CREATE TABLE was rolled back with its version row;
    # the default bind, another database, committed on its own.
    assert pg_tables_and_version(users_url) == ({"account", "alembic_version"}, [first])
    assert pg_tables_and_version(main_url) == (
        {"post", "audit_default", "alembic_version"},
        [new_id],
    )
    for url in (main_url, users_url):
        password = make_url(url).password
        assert password and password not in result.stdout + result.stderr

    # Fixed, the next run migrates only the bind that is behind.
    new.write_text(new.read_text().replace(FAILING_STATEMENT, ""))
    output = multiblog.output(multiblog.alembic("upgrade", "head"))
    assert output.count(f"Running upgrade {first} -> {new_id}") == 1
    assert pg_tables_and_version(users_url) == (
        {"account", "audit_users", "alembic_version"},
        [new_id],
    )


FAILING_STATEMENT = "    op.execute('SELECT * FROM no_such_table')\n"
