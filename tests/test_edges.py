"""Inputs at the edges: nothing may make the environment do the wrong thing
silently. Each case runs the real ``alembic`` script on SQLite; the cases
that need a server are in ``test_postgresql_edges.py``.
"""

from __future__ import annotations

import importlib.util
import json
import textwrap
from pathlib import Path

import pytest

from harness import BLOG_TABLES
from harness import Project
from harness import ProjectFactory
from harness import autogenerate
from harness import write_revision

pytestmark = pytest.mark.slow


def write_pyproject(project: Project, table: str) -> None:
    (project.root / "pyproject.toml").write_text(
        "[tool.alembic]\n" + textwrap.dedent(table).lstrip()
    )


# -- Autogenerate against empty metadata ------------------------------------


def test_autogenerate_never_drops_every_table_because_models_were_not_imported(
    blog: Project,
) -> None:
    blog.alembic("revision", "--autogenerate", "-m", "init")
    blog.alembic("upgrade", "head")
    before = blog.revision_files()
    blog.set_ini_option("flask_app", "bare_app:create_app")

    assert blog.failure("revision", "--autogenerate", "-m", "oops") == (
        "The metadata of Flask app 'bare_app' has no tables, so autogenerate"
        " would drop every table of the database (post, user); no revision was"
        " written. Most often the models module is never imported by the code"
        " that flask_app names; import it there. To drop every table on"
        " purpose, write that revision by hand ('alembic revision -m ...' and"
        " op.drop_table())."
    )
    assert blog.revision_files() == before
    assert blog.tables() == BLOG_TABLES

    # A revision written by hand is still possible.
    blog.alembic("revision", "-m", "by hand")
    assert len(blog.revision_files()) == len(before) + 1


def test_a_sequence_of_metadata_as_target_metadata(blog: Project) -> None:
    """Alembic takes a list of MetaData; the empty-metadata check read
    ``.tables`` of the list and crashed.
    """
    (blog.root / "migrations" / "env.py").write_text(
        "from sqlalchemy import Column, Integer, MetaData, Table\n\n"
        "from alembic_flask_env import run_migrations\n"
        "from blogapp.extensions import db\n\n"
        "audit = MetaData()\n"
        'Table("audit", audit, Column("id", Integer, primary_key=True))\n\n'
        "run_migrations(target_metadata=[db.metadata, audit])\n"
    )
    output = autogenerate(blog)
    assert "Detected added table 'audit'" in output
    assert "Detected added table 'user'" in output
    blog.alembic("upgrade", "head")
    assert blog.tables() == BLOG_TABLES | {"audit"}

    # Every MetaData of the list empty: the refusal, not a crash.
    (blog.root / "migrations" / "env.py").write_text(
        "from sqlalchemy import MetaData\n\n"
        "from alembic_flask_env import run_migrations\n\n"
        "run_migrations(target_metadata=[MetaData(), MetaData()])\n"
    )
    assert blog.failure("revision", "--autogenerate", "-m", "oops").startswith(
        "The metadata of Flask app 'blogapp' has no tables, so autogenerate"
        " would drop every table of the database (audit, post, user)"
    )


def test_autogenerate_with_empty_metadata_and_an_empty_database_is_fine(
    blog: Project,
) -> None:
    blog.set_ini_option("flask_app", "bare_app:create_app")
    output = blog.output(blog.alembic("revision", "--autogenerate", "-m", "none"))
    assert "No changes in schema detected." in output
    assert blog.revision_files() == []


# -- Settings that were silently misread ------------------------------------


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            "flask_app = 1",
            "flask_app = 1 (from [tool.alembic] in pyproject.toml) is an"
            " integer, which flask_app cannot be. It takes a string, for"
            ' example flask_app = "yourpackage:create_app".',
        ),
        (
            "migration_lock_timeout = inf",
            "migration_lock_timeout = 'inf' (from [tool.alembic] in"
            " pyproject.toml) is not a number of seconds (finite, 0 or more)."
            " Set migration_lock_timeout to how long to wait for another"
            " migration run, for example migration_lock_timeout = 600 (0: do not"
            " wait).",
        ),
        (
            "migration_lock = 'maybe'",
            "migration_lock = 'maybe' (from [tool.alembic] in pyproject.toml)"
            " is not a boolean. Set migration_lock = true (the default: one"
            " migration run at a time) or migration_lock = false.",
        ),
    ],
)
def test_pyproject_values_of_a_type_the_key_does_not_take(
    blog: Project, table: str, message: str
) -> None:
    """One value of each reader (the type check, the seconds, the boolean);
    the other types: tests/unit/test_setting_messages.py.
    """
    if table.startswith("flask_app"):
        blog.set_ini_option("flask_app", "")
    write_pyproject(blog, table)
    assert blog.failure("upgrade", "head") == message
    assert not blog.database().exists()


@pytest.mark.parametrize("timeout", ["0", "2", "2.5"])
def test_pyproject_numbers_and_booleans_are_read_as_such(
    blog: Project, timeout: str
) -> None:
    """On SQLite the lock is never taken, so what is shown is that each value
    is accepted; test_postgresql_edges shows that they take effect.
    """
    write_pyproject(
        blog, f"migration_lock = false\nmigration_lock_timeout = {timeout}\n"
    )
    blog.alembic("revision", "--autogenerate", "-m", "init")
    blog.alembic("upgrade", "head")
    assert blog.tables() == BLOG_TABLES


@pytest.mark.parametrize(
    ("key", "value"),
    [("flask_app", "blogapp:create_app('100%')")],
)
def test_a_percent_in_one_of_our_ini_keys(blog: Project, key: str, value: str) -> None:
    """(The other keys: tests/unit/test_setting_messages.py.)"""
    blog.set_ini_option(key, value)
    assert blog.failure("current") == (
        f"{key} = {value!r} (from [alembic] in alembic.ini) has a '%' that the"
        " ini file reads as the start of a %(name)s substitution. Write each"
        f" literal '%' in {key} as '%%'."
    )


def test_a_doubled_percent_is_a_literal_one(blog: Project) -> None:
    blog.set_ini_option("flask_app", "blogapp:create_app('100%%')")
    blog.alembic("current")
    assert blog.database("100%.db").exists()


@pytest.mark.parametrize("timeout", ["inf"])
def test_a_lock_timeout_that_is_no_finite_number_of_seconds(
    blog: Project, timeout: str
) -> None:
    """(The other values: tests/unit/test_setting_messages.py.)"""
    assert blog.failure("-x", f"migration_lock_timeout={timeout}", "current") == (
        f"migration_lock_timeout = {timeout!r} (from -x"
        " migration_lock_timeout=...) is not a number of seconds (finite, 0 or"
        " more). Set migration_lock_timeout to how long to wait for another"
        " migration run, for example migration_lock_timeout = 600 (0: do not"
        " wait)."
    )


@pytest.mark.parametrize(
    ("key", "value", "maximum", "why"),
    [
        (
            "table_lock_timeout",
            "2147484",
            2147483,
            "what PostgreSQL's lock_timeout takes (2147483647 ms)",
        ),
        ("migration_lock_timeout", "1e300", 31536000, "one year"),
        (
            "migration_connect_timeout",
            "40000000",
            31536000,
            "what PyMySQL's connect_timeout takes",
        ),
    ],
)
def test_a_timeout_longer_than_the_servers_take_is_refused_before_connecting(
    blog: Project, key: str, value: str, maximum: int, why: str
) -> None:
    """Accepted as finite, these were refused by the server or driver with
    a traceback once the run had begun. (One value per key; 1e300 for
    table_lock_timeout: tests/unit/test_setting_messages.py.)
    """
    # Nothing is connected to: the URL points nowhere.
    blog.env["BLOGAPP_DATABASE_URI"] = "postgresql+psycopg://u:p@127.0.0.1:1/x"
    example = {"table_lock_timeout": "2", "migration_lock_timeout": "600"}
    assert blog.failure("-x", f"{key}={value}", "upgrade", "head") == (
        f"{key} = {value!r} (from -x {key}=...) is more than {maximum} s, the"
        f" longest {key} can be ({why}). Set {key} to a number of seconds from 0"
        f" to {maximum}, for example {key} = {example.get(key, '30')}."
    )


@pytest.mark.parametrize("retries", ["²"])
def test_a_count_in_digits_python_reads_but_int_does_not(
    blog: Project, retries: str
) -> None:
    """(The other digits: tests/unit/test_setting_messages.py.)"""
    assert blog.failure("-x", f"table_lock_retries={retries}", "current") == (
        f"table_lock_retries = {retries!r} (from -x table_lock_retries=...) is"
        " not a whole number, 0 or more. Set table_lock_retries to how often to"
        " run a revision again after a lock wait, for example"
        " table_lock_retries = 3."
    )


def test_dash_x_without_a_value_gives_an_example_for_that_key(blog: Project) -> None:
    assert blog.failure("-x", "migration_lock", "current") == (
        "-x 'migration_lock' has no value. Write -x migration_lock=VALUE, for"
        " example -x migration_lock=false."
    )


# -- Keyword arguments that Alembic would ignore -----------------------------


@pytest.mark.parametrize(("function", "template"), [("run_migrations", "flask")])
def test_an_unknown_keyword_argument_in_env_py(
    blog: Project, function: str, template: str
) -> None:
    (blog.root / "migrations" / "env.py").write_text(
        f"from alembic_flask_env import {function}\n\n"
        f"{function}(compare_server_defaults=True)\n"
    )
    assert blog.failure("upgrade", "head") == (
        f"{function}(compare_server_defaults=...) in env.py:"
        " 'compare_server_defaults' is not a parameter of Alembic's"
        " context.configure(), which would ignore it. Did you mean"
        " 'compare_server_default'? Pass only parameters of"
        " context.configure(), or dialect options named after their dialect"
        " (such as mssql_batch_separator)."
    )


def test_the_version_table_options_alembic_documents_are_taken(
    blog: Project,
) -> None:
    """context.configure() takes version_table through **kw; refusing it as
    unknown (as an earlier release did) made the documented way to rename
    the version table fail.
    """
    (blog.root / "migrations" / "env.py").write_text(
        "from alembic_flask_env import run_migrations\n\n"
        "run_migrations(version_table='blog_version')\n"
    )
    blog.alembic("upgrade", "head")
    assert "blog_version" in blog.tables()
    assert "alembic_version" not in blog.tables()


def test_dialect_options_and_real_parameters_are_passed_on(blog: Project) -> None:
    (blog.root / "migrations" / "env.py").write_text(
        "from alembic_flask_env import run_migrations\n\n"
        "run_migrations(compare_server_default=True,"
        " mssql_batch_separator='GO', sqlite_autoincrement=False)\n"
    )
    blog.alembic("revision", "--autogenerate", "-m", "init")
    blog.alembic("upgrade", "head")
    assert blog.tables() == BLOG_TABLES


# -- Messages that misled -----------------------------------------------------


@pytest.mark.parametrize("shape", ["missing directory", "a directory"])
def test_a_sqlite_file_that_cannot_be_opened(blog: Project, shape: str) -> None:
    if shape == "missing directory":
        path = blog.root / "no" / "such" / "dir" / "blog.db"
    else:
        path = blog.root / "a_directory.db"
        path.mkdir()
    blog.env["BLOGAPP_DATABASE_URI"] = f"sqlite:///{path}"
    message = blog.failure("upgrade", "head")
    assert message == (
        f"Could not connect to sqlite:///{path} (the database of Flask app"
        " 'blogapp'): unable to open database file. SQLite could not open the"
        f" file {path}: check that its directory {path.parent} exists and is"
        " writable, and that the path names a file, not a directory (a"
        " relative path is relative to the working directory)."
    )
    assert "server is running" not in message


def test_a_relative_flask_metadata_module(blog: Project) -> None:
    blog.set_ini_option("flask_metadata", ".models:db.metadata")
    assert blog.failure("current") == (
        "flask_metadata = '.models:db.metadata' (from [alembic] in alembic.ini)"
        " names the relative module '.models', which has no package to be"
        " relative to. Write the module's full name, for example"
        " flask_metadata = yourpackage.models:Base.metadata."
    )


def test_the_missing_metadata_message_names_pyproject_when_settings_live_there(
    project_factory: ProjectFactory,
) -> None:
    project = project_factory("shapes", template="flask-pyproject")
    pyproject = project.root / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            'flask_app = ""', 'flask_app = "plain_app:create_app"'
        )
    )
    assert project.failure("current") == (
        "flask_app = 'plain_app:create_app' (from [tool.alembic] in"
        " pyproject.toml) gives the Flask app 'plain_app', which has a database"
        " but no metadata that alembic_flask_env knows of (Flask-SQLAlchemy-Lite"
        " and plain SQLAlchemy keep it on your own declarative Base). Set"
        " flask_metadata = yourpackage.models:Base.metadata under"
        " [tool.alembic] in pyproject.toml."
    )


def test_inside_an_active_app_context_no_message_claims_flask_app_was_read(
    blog: Project,
) -> None:
    script = blog.root / "migrate_inside.py"
    script.write_text(
        "from alembic import command\n"
        "from alembic.util import CommandError\n"
        "from alembic_flask_env import alembic_config\n"
        "from no_database import app\n"
        "with app.app_context():\n"
        "    try:\n"
        "        command.upgrade(alembic_config('alembic.ini'), 'head')\n"
        "    except CommandError as error:\n"
        "        print(error)\n"
    )
    assert blog.python(str(script)).stdout.strip() == (
        "the active Flask app context (flask_app is not read there) gives the"
        " Flask app 'no_database', which has no SQLAlchemy extension"
        " (app.extensions has no 'sqlalchemy' entry) and no"
        " SQLALCHEMY_DATABASE_URI in its config. Call 'db.init_app(app)'"
        " (Flask-SQLAlchemy or Flask-SQLAlchemy-Lite) in the code that"
        " flask_app names, or, with plain SQLAlchemy, set"
        " SQLALCHEMY_DATABASE_URI and flask_metadata."
    )


def test_an_app_that_exits_while_loading_is_an_error_not_a_success(
    blog: Project,
) -> None:
    blog.alembic("revision", "--autogenerate", "-m", "init")
    blog.set_ini_option("flask_app", "exiting_app")
    path = blog.root / "exiting_app.py"
    assert blog.failure("upgrade", "head") == (
        f"flask_app = 'exiting_app' (from [alembic] in alembic.ini): loading the"
        f" app raised SystemExit(0) at {path}, line 5, so there is no app to"
        " migrate. Put that exit under \"if __name__ == '__main__':\", or point"
        " flask_app at code that builds the app without exiting."
    )
    assert blog.version() == []


@pytest.mark.skipif(
    importlib.util.find_spec("dotenv") is not None,
    reason="python-dotenv is installed here; the min environment runs without it",
)
def test_a_flaskenv_that_cannot_be_read_is_mentioned(blog: Project) -> None:
    blog.set_ini_option("flask_app", "")
    (blog.root / ".flaskenv").write_text("FLASK_APP=blogapp:create_app\n")
    del blog.env["FLASK_SKIP_DOTENV"]
    # python-dotenv would find the file from a subdirectory too.
    result = blog.alembic(
        "-c",
        str(blog.root / "alembic.ini"),
        "current",
        cwd=blog.root / "migrations",
        ok=False,
    )
    assert (
        f"{blog.root / '.flaskenv'} is present, but python-dotenv is not"
        " installed, so the variables in it are not set (FLASK_APP among them)."
        " Install python-dotenv (pip install 'alembic-flask-env[dotenv]'), or"
        " set FLASK_SKIP_DOTENV=1 to silence this." in result.stderr
    )


@pytest.mark.skipif(
    importlib.util.find_spec("dotenv") is None,
    reason="python-dotenv is not installed (the min environment)",
)
@pytest.mark.parametrize("name", [".flaskenv", ".env"])
def test_a_dotenv_file_that_is_not_utf8(blog: Project, name: str) -> None:
    (blog.root / name).write_bytes(b"SECRET_KEY=caf\xe9\n")
    del blog.env["FLASK_SKIP_DOTENV"]
    result = blog.alembic("current", ok=False)
    assert result.stdout.strip() == (
        f"FAILED: {blog.root / name} is not UTF-8 text (byte 0xe9 at offset 14),"
        f" and python-dotenv reads {name} as UTF-8 for the flask command and for"
        " alembic alike. Save it as UTF-8, or set FLASK_SKIP_DOTENV=1 to skip"
        " .flaskenv and .env."
    )
    assert "Traceback" not in result.stderr


# -- flask-multidb: revisions whose functions name no bind ---------------------


def write_multidb_revision(
    project: Project, revision: str, down: str | None, functions: dict[str, str]
) -> Path:
    """A revision with the template's dispatch and ``functions`` (name:
    statement) written out.
    """
    body = "".join(
        f"\n\ndef {name}():\n    {statement}\n" for name, statement in functions.items()
    )
    path = project.root / "migrations" / "versions" / f"{revision}_hand.py"
    path.write_text(
        "from alembic import op\n\n"
        f"revision = {revision!r}\n"
        f"down_revision = {down!r}\n"
        "branch_labels = None\n"
        "depends_on = None\n\n\n"
        "def upgrade(engine_name):\n"
        '    globals().get(f"upgrade_{engine_name}", lambda: None)()\n\n\n'
        "def downgrade(engine_name):\n"
        '    globals().get(f"downgrade_{engine_name}", lambda: None)()\n' + body
    )
    return path


def test_flask_migrate_named_functions_under_default_naming_are_refused(
    multiblog: Project,
) -> None:
    """Flask-Migrate calls the default bind '' (upgrade_()): run by an env
    that calls it 'default', the revision used to run nothing and be
    stamped done.
    """
    path = write_multidb_revision(
        multiblog,
        "fm1",
        None,
        {
            "upgrade_": "op.execute('CREATE TABLE note (id integer)')",
            "downgrade_": "op.execute('DROP TABLE note')",
            "upgrade_users": "pass",
            "downgrade_users": "pass",
        },
    )
    assert multiblog.failure("upgrade", "head") == (
        f"Revision fm1 ({path}) defines upgrade_(), upgrade_users() but no"
        " upgrade_default(), and '' is not a bind of the app; its binds are"
        " named 'default', 'users' in revisions. Running it would change"
        " nothing for bind 'default' and mark it done. Revisions written by"
        " Flask-Migrate name the default bind '' (upgrade_()): pass"
        ' default_engine_name="" to run_multidb_migrations() in env.py, as'
        " 'python -m alembic_flask_env convert' does."
    )
    assert multiblog.tables("main.db") <= {"alembic_version"}
    assert multiblog.version("main.db") == []
    assert multiblog.tables("users.db") == set()


def test_functions_for_a_bind_the_app_does_not_have_are_refused(
    multiblog: Project,
) -> None:
    """x2 has no function for users but one for 'archive' (most likely meant
    for users, or users under an old name): refused as it is about to run;
    x1 before it is fine and runs, for ``upgrade x1`` too.
    """
    write_multidb_revision(
        multiblog,
        "x1",
        None,
        {
            "upgrade_default": "op.execute('CREATE TABLE note (id integer)')",
            "upgrade_users": "op.execute('CREATE TABLE badge (id integer)')",
        },
    )
    path = write_multidb_revision(
        multiblog,
        "x2",
        "x1",
        {"upgrade_default": "pass", "upgrade_archive": "pass"},
    )
    multiblog.alembic("upgrade", "x1")
    assert multiblog.version("main.db") == ["x1"]
    assert multiblog.version("users.db") == ["x1"]
    assert multiblog.failure("upgrade", "head") == (
        f"Revision x2 ({path}) defines upgrade_archive(), upgrade_default() but"
        " no upgrade_users(), and 'archive' is not a bind of the app; its binds"
        " are named 'default', 'users' in revisions. Running it would change"
        " nothing for bind 'users' and mark it done. Rename the functions after"
        " the binds they are for (upgrade_users()), or delete the functions of"
        " a bind the app no longer has; a helper function must not be named"
        " upgrade_... or downgrade_... (call it _upgrade_... instead)."
    )
    # The default bind, migrated before users, kept x2; users did not.
    assert multiblog.version("main.db") == ["x2"]
    assert multiblog.version("users.db") == ["x1"]


def test_functions_for_a_removed_bind_beside_every_binds_own_are_logged(
    multiblog: Project,
) -> None:
    """A revision with a function for each bind and one for a bind the app
    no longer has (or a helper named like one) runs, saying what it left.
    """
    write_multidb_revision(
        multiblog,
        "h1",
        None,
        {
            "upgrade_default": "op.execute('CREATE TABLE note (id integer)')",
            "upgrade_users": "op.execute('CREATE TABLE badge (id integer)')",
            "upgrade_archive": "op.execute('CREATE TABLE never (id integer)')",
            "upgrade_helper_rows": "op.execute('CREATE TABLE never (id integer)')",
        },
    )
    output = multiblog.output(multiblog.alembic("upgrade", "head"))
    assert (
        output.count(
            "Revision h1 defines upgrade_archive(), upgrade_helper_rows(), named"
            " after no bind of the app: the environment does not run them."
        )
        == 1
    )
    assert multiblog.tables("main.db") == {"note", "alembic_version"}
    assert multiblog.tables("users.db") == {"badge", "alembic_version"}


def test_a_history_that_began_with_one_database(multiblog: Project) -> None:
    """s1 was written by the flask template (``def upgrade():``) before the
    users bind was added: it runs for the default bind only.
    """
    write_revision(multiblog, "s1", None, "op.execute('CREATE TABLE note (id int)')")
    write_multidb_revision(
        multiblog,
        "m2",
        "s1",
        {
            "upgrade_default": "op.execute('CREATE TABLE tag (id integer)')",
            "upgrade_users": "op.execute('CREATE TABLE badge (id integer)')",
        },
    )
    output = multiblog.output(multiblog.alembic("upgrade", "head"))
    assert (
        "Revision s1 is a single-database revision (its upgrade() takes no"
        " engine_name): it runs for the default bind only; nothing ran for"
        " 'users'." in output
    )
    assert multiblog.tables("main.db") == {"note", "tag", "alembic_version"}
    assert multiblog.tables("users.db") == {"badge", "alembic_version"}
    assert multiblog.version("users.db") == ["m2"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            {"audit-log": "sqlite:///audit.db"},
            "Bind 'audit-log' of Flask app 'multiblog' (a key of SQLALCHEMY_BINDS)"
            " cannot name the functions of a revision: upgrade_audit-log() is not"
            " a Python name. Rename the bind to letters, digits and underscores,"
            " for example 'audit_log'; nothing was written or run.",
        ),
        (
            {"default": "sqlite:///other.db"},
            "Flask app 'multiblog' has a default database (SQLALCHEMY_DATABASE_URI)"
            " and a bind named 'default' in SQLALCHEMY_BINDS, but flask-multidb"
            " calls the default database 'default': the two would share one name"
            " and one version history. Rename that bind in SQLALCHEMY_BINDS (and"
            " in __bind_key__ of its models).",
        ),
    ],
)
def test_bind_names_flask_multidb_cannot_use(
    multiblog: Project, extra: dict[str, str], message: str
) -> None:
    multiblog.env["MULTIBLOG_EXTRA_BINDS"] = json.dumps(extra)
    for command in (("revision", "--autogenerate", "-m", "x"), ("upgrade", "head")):
        assert multiblog.failure(*command) == message
    assert multiblog.revision_files() == []


def test_two_binds_on_one_database_are_refused(multiblog: Project) -> None:
    main = multiblog.root / "instance" / "main.db"
    multiblog.env["MULTIBLOG_USERS_URI"] = f"sqlite:///{main}"
    assert multiblog.failure("upgrade", "head") == (
        "Binds 'default' and 'users' of Flask app 'multiblog' use the same"
        f" database, sqlite:///{main}: they would share its alembic_version, so"
        " the second would never get its tables. Point each bind at a database"
        " of its own, or put their models on one bind."
    )


def test_a_revision_that_predates_a_bind_is_skipped_for_it_with_a_log_line(
    multiblog: Project,
) -> None:
    write_multidb_revision(
        multiblog,
        "old1",
        None,
        {
            "upgrade_default": "op.execute('CREATE TABLE note (id integer)')",
            "downgrade_default": "op.execute('DROP TABLE note')",
        },
    )
    output = multiblog.output(multiblog.alembic("upgrade", "head"))
    assert (
        "Revision old1 has no upgrade_users(): nothing ran for bind 'users' (the"
        " revision predates the bind)." in output
    )
    assert "for bind 'default'" not in output
    assert multiblog.tables("main.db") == {"note", "alembic_version"}
    assert multiblog.version("users.db") == ["old1"]

    output = multiblog.output(multiblog.alembic("downgrade", "base"))
    assert "Revision old1 has no downgrade_users(): nothing ran for bind" in output
    assert multiblog.tables("main.db") == {"alembic_version"}


@pytest.mark.parametrize(
    ("source", "arguments"),
    [
        ("flask_binds = ,", []),
        ("", ["-x", "flask_binds=,,,"]),
    ],
)
def test_flask_binds_that_names_no_bind(
    multiblog: Project, source: str, arguments: list[str]
) -> None:
    if source:
        multiblog.set_ini_option("flask_binds", ",")
        where = "[alembic] in alembic.ini"
        value = ","
    else:
        where = "-x flask_binds=..."
        value = ",,,"
    assert multiblog.failure(*arguments, "upgrade", "head") == (
        f"flask_binds = {value!r} (from {where}) names no bind. Set flask_binds"
        " to some of default, users, separated by commas, or leave it empty (or"
        " unset) for all."
    )


def test_flask_binds_as_a_toml_list(multiblog: Project) -> None:
    write_pyproject(multiblog, 'flask_binds = ["users"]\n')
    multiblog.alembic("revision", "--autogenerate", "-m", "init")
    multiblog.alembic("upgrade", "head")
    assert multiblog.tables("users.db") == {"account", "alembic_version"}
    assert "post" not in multiblog.tables("main.db")

    write_pyproject(multiblog, "flask_binds = []\n")
    assert multiblog.failure("upgrade", "head").startswith(
        "flask_binds = ',' (from [tool.alembic] in pyproject.toml) names no bind."
    )
    write_pyproject(multiblog, 'flask_binds = [""]\n')
    assert multiblog.failure("upgrade", "head").startswith(
        "flask_binds = ',' (from [tool.alembic] in pyproject.toml) names no bind."
    )
    write_pyproject(multiblog, "flask_binds = [1]\n")
    assert multiblog.failure("upgrade", "head") == (
        "flask_binds = [1] (from [tool.alembic] in pyproject.toml) is a list"
        " with items that are not strings, which flask_binds cannot be. It takes"
        ' a string or a list of strings, for example flask_binds = ["default",'
        ' "users"].'
    )


def test_an_unknown_keyword_argument_in_the_multidb_env_py(
    multiblog: Project,
) -> None:
    (multiblog.root / "migrations" / "env.py").write_text(
        "from alembic_flask_env import run_multidb_migrations\n\n"
        "run_multidb_migrations(include_objects=None)\n"
    )
    assert multiblog.failure("current") == (
        "run_multidb_migrations(include_objects=...) in env.py:"
        " 'include_objects' is not a parameter of Alembic's"
        " context.configure(), which would ignore it. Did you mean"
        " 'include_object'? Pass only parameters of context.configure(), or"
        " dialect options named after their dialect (such as"
        " mssql_batch_separator)."
    )


# -- --sql on SQLite ----------------------------------------------------------


def test_sql_on_sqlite_names_the_revision_with_a_batch_operation(
    blog: Project,
) -> None:
    blog.alembic("revision", "--autogenerate", "-m", "init")
    [init] = blog.revision_files()
    path = blog.root / "migrations" / "versions" / "b1_drop.py"
    path.write_text(
        "from alembic import op\n\n"
        "revision = 'b1'\n"
        f"down_revision = {init.name.split('_')[0]!r}\n"
        "branch_labels = None\n"
        "depends_on = None\n\n\n"
        "def upgrade():\n"
        "    with op.batch_alter_table('user') as batch_op:\n"
        "        batch_op.drop_column('name')\n\n\n"
        "def downgrade():\n"
        "    pass\n"
    )
    message = blog.failure("upgrade", "head", "--sql")
    assert message.startswith("This operation cannot proceed in --sql mode;")
    assert message.endswith(
        f" It happened in revision b1 ({path}, line 10): on SQLite, --sql works"
        " only for revisions without batch operations that recreate a table,"
        " which must read the table from the database first. Run that revision"
        " online ('alembic upgrade b1'), then --sql for the ones after it."
    )


def test_a_revision_hook_of_env_py_runs_before_ours(blog: Project) -> None:
    (blog.root / "migrations" / "env.py").write_text(
        "from alembic_flask_env import run_migrations\n\n\n"
        "def hook(context, revision, directives):\n"
        "    print('hook saw', len(directives[0].upgrade_ops.ops), 'operations')\n\n\n"
        "run_migrations(process_revision_directives=hook)\n"
    )
    assert (
        "hook saw 2 operations"
        in blog.alembic("revision", "--autogenerate", "-m", "init").stdout
    )
    blog.alembic("upgrade", "head")
    result = blog.alembic("revision", "--autogenerate", "-m", "nothing")
    assert "hook saw 0 operations" in result.stdout
    assert "No changes in schema detected." in result.stderr
    assert len(blog.revision_files()) == 1


def test_table_lock_timeout_on_sqlite_says_it_does_nothing(blog: Project) -> None:
    blog.alembic("revision", "--autogenerate", "-m", "init")
    result = blog.alembic("-x", "table_lock_timeout=2", "upgrade", "head")
    assert (
        "table_lock_timeout applies to PostgreSQL and MySQL/MariaDB; sqlite"
        " waits for locks as it always does." in result.stderr
    )
    assert blog.tables() == BLOG_TABLES
