"""The exact refusals of flask_app values that lead to no app, in process,
through load_app as a run calls it, from the blog project's directory.

Two values stay end-to-end (the FAILED: line, no database made) in
tests/test_errors.py::test_flask_app_that_leads_to_no_app. The others,
whose messages are Flask's (its versions are min's and coverage's, so
they are marked slow as they were there), are the same path: load_app
raising AppNotFound, which the run prints as its FAILED: line.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from alembic_flask_env.app.loading import load_app
from alembic_flask_env.errors import AppNotFound
from alembic_flask_env.settings import Setting

BLOG = Path(__file__).resolve().parents[1] / "projects" / "blog"
#: As the user reads it (spelled out, not the package's constant).
FORMS_HINT = (
    "Set flask_app to 'module', 'module:app', 'module:create_app' or"
    " \"module:create_app('arg')\", the same forms 'flask --app' accepts."
)


@pytest.fixture
def blog(
    tmp_path: Path, isolated_imports: None, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A copy of the blog project, the working directory and first on
    sys.path, as alembic's prepend_sys_path makes it for a run.
    """
    root = tmp_path / "project"
    shutil.copytree(BLOG, root)
    monkeypatch.chdir(root)
    monkeypatch.syspath_prepend(str(root))
    return root


@pytest.mark.slow
@pytest.mark.parametrize(
    ("flask_app", "message"),
    [
        (
            "blogapp.nosuchmodule",
            "could not import module 'blogapp.nosuchmodule'. Check the"
            " spelling, and that the module is installed or lies in a"
            " directory on sys.path (the flask template sets"
            " 'prepend_sys_path = %(here)s', the directory of alembic.ini).",
        ),
        (
            "blogapp:create_ap",
            "Failed to find attribute 'create_ap' in 'blogapp'. Did you mean"
            f" 'create_app'? {FORMS_HINT}",
        ),
        (
            "blogapp:create_ap('prod')",
            "Failed to find attribute 'create_ap' in 'blogapp'. Did you mean"
            f" 'create_app'? {FORMS_HINT}",
        ),
        (
            "blogap:create_app",
            "could not import module 'blogap'. Did you mean 'blogapp'? Check"
            " the spelling, and that the module is installed or lies in a"
            " directory on sys.path (the flask template sets"
            " 'prepend_sys_path = %(here)s', the directory of alembic.ini).",
        ),
        (
            "blogapp.modles:create_app",
            "could not import module 'blogapp.modles'. Did you mean"
            " 'blogapp.models'? Check the spelling, and that the module is"
            " installed or lies in a directory on sys.path (the flask template"
            " sets 'prepend_sys_path = %(here)s', the directory of alembic.ini).",
        ),
        (
            "needs_args",
            "Detected factory 'create_app' in module 'needs_args', but could"
            " not call it without arguments. Use 'needs_args:create_app(args)'"
            f" to specify arguments. {FORMS_HINT}",
        ),
        (
            "needs_args:create_app",
            "The factory 'create_app' in module 'needs_args' could not be"
            f" called with the specified arguments. {FORMS_HINT}",
        ),
        (
            "not_an_app:thing",
            "A valid Flask application was not obtained from"
            f" 'not_an_app:thing'. {FORMS_HINT}",
        ),
        (
            "blogapp:create_app(",
            "Failed to parse 'create_app(' as an attribute name or function"
            f" call. {FORMS_HINT}",
        ),
        (
            "blogapp:create_app(os.environ)",
            "Failed to parse arguments as literal values:"
            f" 'create_app(os.environ)'. {FORMS_HINT}",
        ),
    ],
)
def test_flask_app_that_leads_to_no_app(
    blog: Path, flask_app: str, message: str
) -> None:
    setting = Setting("flask_app", flask_app, "[alembic] in alembic.ini")
    with pytest.raises(AppNotFound) as raised:
        load_app(setting)
    expected = f"flask_app = {flask_app!r} (from [alembic] in alembic.ini): {message}"
    assert str(raised.value) == expected
    assert not (blog / "instance").exists()


def test_a_flask_app_with_no_module_before_the_colon(blog: Path) -> None:
    setting = Setting("flask_app", ":create_app", "-x flask_app=...")
    with pytest.raises(AppNotFound) as raised:
        load_app(setting)
    assert str(raised.value) == (
        "flask_app = ':create_app' (from -x flask_app=...) names no module"
        f" before the colon. {FORMS_HINT}"
    )
