"""Keyword arguments that context.configure() would silently ignore."""

from __future__ import annotations

import pytest

from alembic_flask_env.errors import InvalidSetting
from alembic_flask_env.runtime.configure_options import CONFIGURE_PARAMETERS
from alembic_flask_env.runtime.configure_options import refuse_unknown_options


@pytest.mark.parametrize(
    "options",
    [
        {"compare_server_default": True, "include_object": None},
        # Documented, and taken through **kw.
        {"version_table": "v", "version_table_schema": "s", "version_table_pk": 1},
        {"mssql_batch_separator": "GO", "oracle_batch_separator": "/"},
        {"postgresql_anything": 1, "sqlite_autoincrement": True},
        {},
    ],
)
def test_real_parameters_and_dialect_options_pass(options: dict[str, object]) -> None:
    refuse_unknown_options(options, "run_migrations")


@pytest.mark.parametrize(
    ("name", "guess"),
    [
        ("compare_server_defaults", " Did you mean 'compare_server_default'?"),
        ("render_as_btach", " Did you mean 'render_as_batch'?"),
        ("zzz", ""),
    ],
)
def test_unknown_names_are_refused_with_the_closest_one(name: str, guess: str) -> None:
    with pytest.raises(InvalidSetting) as error:
        refuse_unknown_options({name: True}, "run_migrations")
    assert str(error.value) == (
        f"run_migrations({name}=...) in env.py: {name!r} is not a parameter of"
        f" Alembic's context.configure(), which would ignore it.{guess} Pass only"
        " parameters of context.configure(), or dialect options named after"
        " their dialect (such as mssql_batch_separator)."
    )


def test_the_parameters_are_read_from_alembic_itself() -> None:
    assert "target_metadata" in CONFIGURE_PARAMETERS
    assert "self" not in CONFIGURE_PARAMETERS
    assert "kw" not in CONFIGURE_PARAMETERS
