"""What conversion decides before it writes anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from alembic_flask_env.convert.folder import _without_ignored_keys
from alembic_flask_env.convert.folder import project_directory


def make_tree(root: Path, *packages: str) -> None:
    for package in packages:
        (root / package).mkdir(parents=True, exist_ok=True)
        (root / package / "__init__.py").write_text("")


@pytest.mark.parametrize(
    ("packages", "folder", "project"),
    [
        ((), "migrations", "."),
        (("pkg",), "pkg/migrations", "."),
        (("pkg", "pkg/sub"), "pkg/sub/migrations", "."),
        (("src/pkg",), "src/pkg/migrations", "src"),
    ],
)
def test_the_ini_goes_above_the_packages(
    tmp_path: Path, packages: tuple[str, ...], folder: str, project: str
) -> None:
    make_tree(tmp_path, *packages)
    (tmp_path / folder).mkdir(parents=True)
    assert project_directory(tmp_path / folder) == (tmp_path / project).resolve()


@pytest.mark.parametrize(
    ("ini", "kept", "replaced"),
    [
        (
            "[alembic]\nscript_location = .\n# keep\nx = 1\n[loggers]\nkeys = root\n",
            "[alembic]\n# keep\nx = 1\n[loggers]\nkeys = root\n",
            ["script_location = ."],
        ),
        (
            "[alembic]\nx = 1\n[other]\nscript_location = kept\n",
            "[alembic]\nx = 1\n[other]\nscript_location = kept\n",
            [],
        ),
        ("[loggers]\nkeys = root\n", "[loggers]\nkeys = root\n", []),
        (
            "[alembic]\nscript_location: somewhere",
            "[alembic]\n",
            ["script_location: somewhere"],
        ),
    ],
)
def test_only_keys_flask_migrate_ignored_are_replaced(
    ini: str, kept: str, replaced: list[str]
) -> None:
    assert _without_ignored_keys(ini) == (kept, replaced)
