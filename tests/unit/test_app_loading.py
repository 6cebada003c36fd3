"""Every flask_app string Flask's grammar refuses, in process."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.config import Config

from alembic_flask_env.app.loading import APP_FORMS
from alembic_flask_env.app.loading import FORMS_HINT
from alembic_flask_env.app.loading import load_app
from alembic_flask_env.app.loading import require_app_setting
from alembic_flask_env.errors import AppNotConfigured
from alembic_flask_env.errors import AppNotFound
from alembic_flask_env.errors import did_you_mean
from alembic_flask_env.settings import Setting

APP_MODULE = """
from flask import Flask

app = Flask("unit_app")


def create_app(name="unit_app"):
    return Flask(name)


def needs_args(name):
    return Flask(name)


thing = 42
"""


@pytest.fixture
def app_module(
    tmp_path: Path, isolated_imports: None, monkeypatch: pytest.MonkeyPatch
) -> Path:
    (tmp_path / "unit_app.py").write_text(APP_MODULE)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def setting(value: str) -> Setting:
    return Setting("flask_app", value, "-x flask_app=...")


@pytest.mark.parametrize(
    ("value", "name"),
    [
        ("unit_app", "unit_app"),
        ("unit_app:app", "unit_app"),
        ("unit_app:create_app", "unit_app"),
        ("unit_app:create_app('other')", "other"),
        ("unit_app.py", "unit_app"),
    ],
)
def test_the_forms_flask_accepts(app_module: Path, value: str, name: str) -> None:
    assert load_app(setting(value)).name == name


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("unit_app:", f"names no application after the colon. {FORMS_HINT}"),
        (":app", f"names no module before the colon. {FORMS_HINT}"),
        (
            "unit_app:nope",
            f": Failed to find attribute 'nope' in 'unit_app'. {FORMS_HINT}",
        ),
        (
            "unit_app:thing",
            ": A valid Flask application was not obtained from"
            f" 'unit_app:thing'. {FORMS_HINT}",
        ),
        (
            "unit_app:needs_args",
            ": The factory 'needs_args' in module 'unit_app' could not"
            f" be called with the specified arguments. {FORMS_HINT}",
        ),
        (
            "unit_app:create_app(x)",
            ": Failed to parse arguments as literal values:"
            f" 'create_app(x)'. {FORMS_HINT}",
        ),
        ("no_such_module_here", ": could not import module 'no_such_module_here'."),
        (
            "unit_app:create_ap",
            ": Failed to find attribute 'create_ap' in 'unit_app'. Did you"
            f" mean 'create_app'? {FORMS_HINT}",
        ),
        (
            "unit_ap:app",
            ": could not import module 'unit_ap'. Did you mean 'unit_app'?",
        ),
    ],
)
def test_what_flask_refuses_is_named_with_the_setting(
    app_module: Path, value: str, message: str
) -> None:
    with pytest.raises(AppNotFound) as error:
        load_app(setting(value))
    text = str(error.value)
    assert text.startswith(f"flask_app = {value!r} (from -x flask_app=...)")
    assert message in text


def test_nothing_configured() -> None:
    with pytest.raises(AppNotConfigured, match="'flask_app' is not set"):
        require_app_setting(None, Config())


REPOSITORY = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "document",
    [
        "alembic_flask_env/templates/flask/alembic.ini.mako",
        "alembic_flask_env/templates/flask-multidb/alembic.ini.mako",
        "alembic_flask_env/templates/flask-pyproject/pyproject.toml.mako",
        "README.md",
    ],
)
def test_templates_and_readme_show_every_form_of_the_grammar(document: str) -> None:
    text = (REPOSITORY / document).read_text()
    for form in APP_FORMS:
        shown = form.replace("module", "yourpackage").replace("'arg'", "'prod'")
        assert shown in text, f"{document} does not show {shown!r}"
    assert "flask --app" in text


def test_did_you_mean_names_the_closest_choice_or_nothing() -> None:
    assert did_you_mean("create_ap", ["create_app", "db", "log"]) == (
        " Did you mean 'create_app'?"
    )
    assert did_you_mean("modles", ["extensions", "models"], prefix="blogapp.") == (
        " Did you mean 'blogapp.models'?"
    )
    assert did_you_mean("nope", ["create_app", "db"]) == ""
