"""Where each key is read from, in which order, and how values parse."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from alembic.config import Config

from alembic_flask_env.errors import InvalidSetting
from alembic_flask_env.settings import ACTIVE_APP_CONTEXT
from alembic_flask_env.settings import Setting
from alembic_flask_env.settings import files_read
from alembic_flask_env.settings import find_setting
from alembic_flask_env.settings import read_x_arguments
from alembic_flask_env.settings import unread_pyproject
from alembic_flask_env.settings import where_to_set

ConfigFactory = Callable[..., Config]


INI = "[alembic] in alembic.ini"
TOML = "[tool.alembic] in pyproject.toml"


@pytest.mark.parametrize(
    ("x", "ini", "toml", "variable", "expected"),
    [
        ("x:app", "ini:app", '"toml:app"', "var:app", ("x:app", "-x flask_app=...")),
        ("", "ini:app", '"toml:app"', "var:app", ("ini:app", INI)),
        ("", "", '"toml:app"', "var:app", ("toml:app", TOML)),
        ("", "", None, "var:app", ("var:app", "the FLASK_APP environment variable")),
        ("  ", "   ", '"  "', "  ", None),
    ],
)
def test_precedence_first_non_empty_value_wins(
    make_config: ConfigFactory,
    monkeypatch: pytest.MonkeyPatch,
    x: str,
    ini: str,
    toml: str | None,
    variable: str,
    expected: tuple[str, str] | None,
) -> None:
    config = make_config(
        f"flask_app = {ini}\n", None if toml is None else f"flask_app = {toml}\n"
    )
    monkeypatch.setenv("FLASK_APP", variable)
    setting = find_setting(config, {"flask_app": x}, "flask_app", "FLASK_APP")
    if expected is None:
        assert setting is None
    else:
        assert setting == Setting("flask_app", *expected)


@pytest.mark.parametrize(
    ("toml", "text"),
    [
        ("migration_lock = false", "false"),
        ("migration_lock = true", "true"),
        ("migration_lock_timeout = 0", "0"),
        ("migration_lock_timeout = 2.5", "2.5"),
        ('flask_binds = ["a", "b"]', "a,b"),
        ("flask_binds = []", ","),
        ('flask_binds = [""]', ","),
        ('flask_app = "pkg:create_app"', "pkg:create_app"),
    ],
)
def test_toml_values_become_the_text_the_ini_would_hold(
    make_config: ConfigFactory, toml: str, text: str
) -> None:
    key = toml.split(" =")[0]
    setting = find_setting(make_config("", toml + "\n"), {}, key)
    assert setting is not None
    assert setting.value == text


@pytest.mark.parametrize(
    ("toml", "kind", "takes"),
    [
        ("flask_app = 1", "an integer", "a string"),
        ("migration_lock = 0", "an integer", "a string or a boolean"),
        (
            "migration_lock_timeout = false",
            "a boolean",
            "a string, an integer or a float",
        ),
        (
            'flask_binds = ["a", 1]',
            "a list with items that are not strings",
            "a string or a list of strings",
        ),
        ("flask_metadata = 2020-01-01", "a date", "a string"),
    ],
)
def test_toml_values_of_another_type_are_refused(
    make_config: ConfigFactory, toml: str, kind: str, takes: str
) -> None:
    key = toml.split(" =")[0]
    with pytest.raises(InvalidSetting) as error:
        find_setting(make_config("", toml + "\n"), {}, key)
    message = str(error.value)
    assert f"(from {TOML}) is {kind}, which {key} cannot be." in message
    assert f"It takes {takes}, for example {key} = " in message


def test_a_percent_in_the_ini_names_the_key_and_the_fix(
    make_config: ConfigFactory,
) -> None:
    config = make_config("flask_app = pkg:create_app('5%')\n")
    with pytest.raises(
        InvalidSetting, match=r"Write each literal '%' in flask_app as '%%'"
    ):
        find_setting(config, {}, "flask_app")
    config = make_config("flask_app = pkg:create_app('5%%')\n")
    setting = find_setting(config, {}, "flask_app")
    assert setting is not None
    assert setting.value == "pkg:create_app('5%')"


def test_a_config_without_an_ini_reads_pyproject_toml_only(
    make_config: ConfigFactory,
) -> None:
    config = make_config("", 'flask_app = "toml:app"\n')
    config.file_config.remove_section("alembic")
    setting = find_setting(config, {}, "flask_app")
    assert setting == Setting("flask_app", "toml:app", TOML)


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (
            ["flask_app=a:b", "other", "k=v=w"],
            {"flask_app": "a:b", "other": "", "k": "v=w"},
        ),
        ([], {}),
    ],
)
def test_x_arguments(arguments: list[str], expected: dict[str, str]) -> None:
    assert read_x_arguments(arguments) == expected


@pytest.mark.parametrize(
    ("key", "example"),
    [
        ("flask_app", "yourpackage:create_app"),
        ("migration_lock", "false"),
        ("migration_lock_timeout", "600"),
        ("flask_binds", "default,users"),
        ("flask_metadata", "yourpackage.models:Base.metadata"),
    ],
)
def test_our_key_without_a_value_gets_an_example_of_its_own(
    key: str, example: str
) -> None:
    with pytest.raises(InvalidSetting) as error:
        read_x_arguments([key])
    assert str(error.value) == (
        f"-x {key!r} has no value. Write -x {key}=VALUE, for example"
        f" -x {key}={example}."
    )


@pytest.mark.parametrize(
    ("source", "where"),
    [
        (TOML, f"under {TOML}"),
        ("[alembic] in production.ini", "in production.ini"),
        ("-x flask_app=...", f"in alembic.ini (or under {TOML})"),
        ("the FLASK_APP environment variable", f"in alembic.ini (or under {TOML})"),
    ],
)
def test_where_to_set_follows_where_the_settings_live(source: str, where: str) -> None:
    assert where_to_set(Setting("flask_app", "x", source)) == where


def test_the_active_app_context_never_claims_flask_app_was_read() -> None:
    setting = Setting("flask_app", "blogapp", ACTIVE_APP_CONTEXT)
    assert setting.describe() == (
        "the active Flask app context (flask_app is not read there)"
    )
    assert Setting("flask_app", "x", INI).describe() == f"flask_app = 'x' (from {INI})"


def test_a_pyproject_toml_beside_the_ini_that_alembic_did_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    project.mkdir()
    elsewhere.mkdir()
    ini, toml = project / "alembic.ini", project / "pyproject.toml"
    ini.write_text("[alembic]\n")
    toml.write_text('[tool.alembic]\nflask_app = "app"\n')
    monkeypatch.chdir(elsewhere)
    # What the alembic command passes: "pyproject.toml" unless -c names one.
    config = Config(str(ini), toml_file="pyproject.toml")
    unread = unread_pyproject(config)
    assert unread is not None
    assert (unread.path, dict(unread.settings)) == (toml, {"flask_app": "app"})
    assert files_read(config) == (
        f"{ini}, and no pyproject.toml (there is none in {elsewhere})"
    )

    monkeypatch.chdir(project)
    assert unread_pyproject(config) is None
    assert files_read(config) == f"{ini} and {toml}"

    monkeypatch.chdir(elsewhere)
    named = Config(str(ini), toml_file=str(toml))
    assert unread_pyproject(named) is None
    toml.write_text("[tool.other]\nkey = 1\n")
    assert unread_pyproject(config) is None
