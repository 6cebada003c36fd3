"""Bad input: one ``FAILED:`` paragraph naming the key, the value and the fix.
Errors inside the user's own code: their own traceback.
"""

from __future__ import annotations

import re

import pytest

from harness import BIN_DIR
from harness import Project

FORMS_HINT = (
    "Set flask_app to 'module', 'module:app', 'module:create_app' or"
    " \"module:create_app('arg')\", the same forms 'flask --app' accepts."
)


def test_no_flask_app_anywhere(blog: Project) -> None:
    blog.set_ini_option("flask_app", "")
    assert blog.failure("upgrade", "head") == (
        "No Flask application is configured: 'flask_app' is not set. Add"
        " 'flask_app = yourpackage:create_app' under [alembic] in alembic.ini"
        " (or under [tool.alembic] in pyproject.toml), pass"
        " '-x flask_app=yourpackage:create_app', or set the FLASK_APP"
        " environment variable. Alembic read"
        f" {blog.root / 'alembic.ini'}, and no pyproject.toml (there is none in"
        f" {blog.root})."
    )
    (blog.root / "pyproject.toml").write_text("[tool.alembic]\n")
    assert blog.failure("upgrade", "head").endswith(
        f" Alembic read {blog.root / 'alembic.ini'} and {blog.root / 'pyproject.toml'}."
    )


# Two cases, on every Python (py313 too): a module that is not there and an
# attribute that is not. The other values load_app refuses, whose messages
# are Flask's, in process: tests/unit/test_flask_app_refusals.py.
@pytest.mark.parametrize(
    ("flask_app", "message"),
    [
        (
            "nosuchmodule:create_app",
            "could not import module 'nosuchmodule'. Check the spelling, and"
            " that the module is installed or lies in a directory on sys.path"
            " (the flask template sets 'prepend_sys_path = %(here)s', the"
            " directory of alembic.ini).",
        ),
        (
            "blogapp:nope",
            f"Failed to find attribute 'nope' in 'blogapp'. {FORMS_HINT}",
        ),
    ],
)
def test_flask_app_that_leads_to_no_app(
    blog: Project, flask_app: str, message: str
) -> None:
    blog.set_ini_option("flask_app", flask_app)
    expected = f"flask_app = {flask_app!r} (from [alembic] in alembic.ini): {message}"
    assert blog.failure("upgrade", "head") == expected
    assert not blog.database().exists()


@pytest.mark.parametrize(
    ("flask_app", "message"),
    [
        ("blogapp:", f"names no application after the colon. {FORMS_HINT}"),
    ],
)
def test_malformed_flask_app(blog: Project, flask_app: str, message: str) -> None:
    """(No module before the colon, the other malformed value, in process:
    tests/unit/test_flask_app_refusals.py.)
    """
    expected = f"flask_app = {flask_app!r} (from -x flask_app=...) {message}"
    assert blog.failure("-x", f"flask_app={flask_app}", "current") == expected


def test_the_error_names_where_the_setting_came_from(blog: Project) -> None:
    blog.set_ini_option("flask_app", "")
    blog.env["FLASK_APP"] = "nosuchmodule"
    assert blog.failure("current").startswith(
        "flask_app = 'nosuchmodule' (from the FLASK_APP environment variable):"
    )
    (blog.root / "pyproject.toml").write_text(
        '[tool.alembic]\nflask_app = "blogapp:nope"\n'
    )
    assert blog.failure("current").startswith(
        "flask_app = 'blogapp:nope' (from [tool.alembic] in pyproject.toml):"
    )


def test_app_without_a_sqlalchemy_extension(blog: Project) -> None:
    blog.set_ini_option("flask_app", "no_database")
    assert blog.failure("upgrade", "head") == (
        "flask_app = 'no_database' (from [alembic] in alembic.ini) gives the"
        " Flask app 'no_database', which has no SQLAlchemy extension"
        " (app.extensions has no 'sqlalchemy' entry) and no"
        " SQLALCHEMY_DATABASE_URI in its config. Call 'db.init_app(app)'"
        " (Flask-SQLAlchemy or Flask-SQLAlchemy-Lite) in the code that flask_app"
        " names, or, with plain SQLAlchemy, set SQLALCHEMY_DATABASE_URI and"
        " flask_metadata."
    )


@pytest.mark.parametrize(
    ("flask_app", "last_lines"),
    [
        (
            "raising_factory",
            [
                'raise RuntimeError("the factory failed on purpose")',
                "RuntimeError: the factory failed on purpose",
            ],
        ),
        (
            "import_error_app",
            [
                "import a_dependency_that_is_not_installed  # noqa: F401",
                "ModuleNotFoundError: No module named"
                " 'a_dependency_that_is_not_installed'",
            ],
        ),
    ],
)
def test_errors_in_the_users_code_keep_their_traceback(
    blog: Project, flask_app: str, last_lines: list[str]
) -> None:
    blog.set_ini_option("flask_app", flask_app)
    result = blog.alembic("upgrade", "head", ok=False)
    assert "FAILED" not in blog.output(result)
    assert "Traceback (most recent call last):" in result.stderr
    assert f"{flask_app}.py" in result.stderr
    lines = [line.strip() for line in result.stderr.strip().splitlines()]
    assert [line for line in lines if not set(line) <= {"^", "~"}][-2:] == last_lines


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ["-x", "migration_lock_timeout=soon"],
            "migration_lock_timeout = 'soon' (from -x migration_lock_timeout=...)"
            " is not a number of seconds (finite, 0 or more). Set"
            " migration_lock_timeout to how long to wait for another migration"
            " run, for example migration_lock_timeout = 600 (0: do not wait).",
        ),
    ],
)
def test_bad_dash_x_arguments(
    blog: Project, arguments: list[str], message: str
) -> None:
    """(A key without a value and a lock that is no boolean, in-process:
    tests/unit/test_settings.py and test_setting_messages.py.)
    """
    assert blog.failure(*arguments, "upgrade", "head") == message
    assert not blog.database().exists()


def test_a_module_with_a_syntax_error(blog: Project) -> None:
    # Written here: a broken .py file in tests/projects would break the linters.
    (blog.root / "syntax_error_app.py").write_text("from flask import Flask\nx = (\n")
    blog.set_ini_option("flask_app", "syntax_error_app")
    path = blog.root / "syntax_error_app.py"
    assert blog.failure("upgrade", "head") == (
        "flask_app = 'syntax_error_app' (from [alembic] in alembic.ini): Python"
        f" cannot compile {path}, line 2: '(' was never closed: 'x = ('. Fix the"
        " syntax error there."
    )


@pytest.mark.parametrize(
    ("extension", "install"),
    [("flask_no_such_extension", "with the pip of {python}")],
)
def test_a_flask_extension_missing_from_alembics_environment(
    blog: Project, extension: str, install: str
) -> None:
    """What running the alembic of another virtualenv than the app's looks
    like. (The three extensions this package reads are installed here; for
    those the message names the distribution to pip install.)
    """
    (blog.root / "extension_app.py").write_text(
        f"from flask import Flask\nimport {extension}\n"
    )
    blog.set_ini_option("flask_app", "extension_app")
    # The python of the venv the alembic script belongs to, under whichever
    # of its names the script uses (python, python3, python3.11; pip may
    # also write a /bin/sh wrapper instead of a shebang when the path is
    # long, so the script itself is not read).
    message = blog.failure("upgrade", "head")
    [python] = re.findall(rf"{re.escape(str(BIN_DIR))}/python[\d.]*", message)[:1]
    top_level = extension
    assert message == (
        "flask_app = 'extension_app' (from [alembic] in alembic.ini): the app"
        f" imports the Flask extension {top_level!r}, which is not installed in"
        f" the Python that runs alembic ({python}). Install it there"
        f" ({install.format(python=python)}), or run the alembic of the app's own"
        " virtual environment."
    )


def test_init_into_a_directory_that_is_not_empty(blog: Project) -> None:
    # Alembic's own check, listed in the README's troubleshooting table.
    assert blog.failure("init", "-t", "flask", "migrations") == (
        "Directory migrations already exists and is not empty"
    )


def test_invalid_pyproject_toml_is_reported_by_alembic_not_by_us(
    blog: Project,
) -> None:
    """Alembic parses pyproject.toml before env.py runs, so the error is its
    own; it names the line and column. Our package is not in the traceback.
    """
    (blog.root / "pyproject.toml").write_text("[tool.alembic\n")
    result = blog.alembic("upgrade", "head", ok=False)
    assert (
        "tomllib.TOMLDecodeError: Expected ']' at the end of a table declaration"
        " (at line 1, column 14)"
        in result.stderr
        or "tomli._parser.TOMLDecodeError" in result.stderr
    )
    assert "alembic_flask_env" not in result.stderr


def test_a_password_with_an_unencoded_at_is_never_printed(blog: Project) -> None:
    """``user:pa@s3cretTail@host``: SQLAlchemy reads ``s3cretTail@host`` as
    the host, which every URL we print would otherwise show.
    """
    blog.env["BLOGAPP_DATABASE_URI"] = (
        "postgresql+psycopg://user:pa@s3cretTail@127.0.0.1:1/app"
    )
    for command in (["current"], ["upgrade", "head"]):
        result = blog.alembic(*command, ok=False)
        assert result.stdout.strip() == (
            "FAILED: The database URL of the database of Flask app 'blogapp',"
            " postgresql+psycopg://***@127.0.0.1:1/app, is malformed: it has more"
            " than one '@', so part of the password was read as the host."
            " Percent-encode each '@' in the user name and password as %40"
            " (urllib.parse.quote(password, safe='')), or build the URL with"
            " sqlalchemy.engine.URL.create()."
        )
        assert "s3cretTail" not in blog.output(result)


def test_the_line_quoted_from_a_syntax_error_is_masked(blog: Project) -> None:
    (blog.root / "syntax_error_app.py").write_text(
        'DATABASE = ("postgresql://app:Synt4xPw@db/app", password="Synt4xPw2" x\n'
    )
    blog.set_ini_option("flask_app", "syntax_error_app")
    path = blog.root / "syntax_error_app.py"
    message = blog.failure("upgrade", "head")
    assert message.startswith(
        "flask_app = 'syntax_error_app' (from [alembic] in alembic.ini): Python"
        f" cannot compile {path}, line 1: "
    )
    assert message.endswith(
        ': \'DATABASE = ("postgresql://***@db/app", password="***" x\'. Fix the'
        " syntax error there."
    )
    assert "Synt4xPw" not in message
