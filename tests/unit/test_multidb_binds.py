"""flask_binds: which binds a run migrates."""

from __future__ import annotations

import pytest

from alembic_flask_env.errors import InvalidSetting
from alembic_flask_env.runtime.multidb import select_binds
from alembic_flask_env.settings import Setting

BINDS = ["default", "archive", "users"]


def binds(value: str) -> Setting:
    return Setting("flask_binds", value, "-x flask_binds=...")


@pytest.mark.parametrize(
    ("value", "selected"),
    [
        ("users, default", ["default", "users"]),
        ("archive", ["archive"]),
        (" users ,", ["users"]),
    ],
)
def test_the_app_order_is_kept(value: str, selected: list[str]) -> None:
    assert select_binds(BINDS, binds(value)) == selected


def test_unset_means_all() -> None:
    assert select_binds(BINDS, None) == BINDS


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (",", "names no bind."),
        (" , ,", "names no bind."),
        ("nope", "names 'nope', which is not a bind of the app."),
        ("nope, no", "names 'nope', 'no', which are not binds of the app."),
    ],
)
def test_values_that_name_no_real_bind(value: str, message: str) -> None:
    with pytest.raises(InvalidSetting, match=message):
        select_binds(BINDS, binds(value))
