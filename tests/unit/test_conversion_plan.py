"""What conversion decides before it writes anything."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

import pytest

from alembic_flask_env.convert.env_code import code_not_carried
from alembic_flask_env.convert.folder import _without_ignored_keys
from alembic_flask_env.convert.folder import convert
from alembic_flask_env.convert.folder import project_directory
from alembic_flask_env.errors import ConversionError


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


def _flask_migrate_folder(project: Path) -> Path:
    """The files of a 'flask db init' folder that conversion reads."""
    folder = project / "migrations"
    (folder / "versions").mkdir(parents=True)
    (folder / "env.py").write_text(
        "from flask import current_app\n\ncontext.configure(connection=None)\n"
    )
    (folder / "alembic.ini").write_text(
        "[alembic]\n\n[loggers]\nkeys = root\n\n[logger_root]\nlevel = WARN\n"
    )
    return folder


def _contents(directory: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(directory)): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def test_a_write_that_fails_half_way_is_undone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _flask_migrate_folder(tmp_path)
    before = _contents(tmp_path)
    write_text = Path.write_text

    def failing_for_env_py(self: Path, *args: Any, **kwargs: Any) -> int:
        if self.name == "env.py":
            raise PermissionError(13, "Permission denied", str(self))
        return write_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", failing_for_env_py)
    with pytest.raises(ConversionError) as raised:
        convert(folder, "shop:create_app")
    assert str(raised.value) == (
        f"Could not write {folder / 'env.py'} (Permission denied); every change"
        " was undone, so the folder is as it was. Make the folder and the"
        " project directory writable and run again."
    )
    assert _contents(tmp_path) == before


def test_a_read_only_directory_stops_it_before_any_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _flask_migrate_folder(tmp_path)
    before = _contents(tmp_path)
    # (The tests may run as root, whom no permission bit stops.)
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != tmp_path)
    with pytest.raises(ConversionError, match="is not writable, and converting"):
        convert(folder, "shop:create_app")
    assert _contents(tmp_path) == before


@pytest.mark.parametrize(
    "template", ["flask", "flask-multidb", "aioflask", "aioflask-multidb"]
)
def test_flask_migrates_own_env_py_carries_over_whole(template: str) -> None:
    spec = importlib.util.find_spec("flask_migrate")
    assert spec is not None and spec.origin is not None
    env_py = Path(spec.origin).parent / "templates" / template / "env.py"
    assert code_not_carried(env_py, env_py.read_text()) == []


def test_code_beyond_flask_migrates_is_named_by_line(tmp_path: Path) -> None:
    source = (
        '"""Our env."""\n'
        "from __future__ import annotations\n"
        "import logging\n"
        "import enum_sync, logging\n"
        "from .local import thing\n"
        "from alembic import context\n"
        "config = context.config\n"
        "EXTRA = 1\n"
        "def render_item(*args):\n"
        "    return False\n"
        "def run_migrations_online():\n"
        "    '''Stock.'''\n"
        "    context.configure(connection=None, render_item=render_item)\n"
        "    print('hello')\n"
        "if context.is_offline_mode():\n"
        "    pass\n"
    )
    named = code_not_carried(tmp_path / "env.py", source)
    assert [(n.line, n.text, n.function, n.is_import) for n in named] == [
        (4, "import enum_sync, logging", "", True),
        (5, "from .local import thing", "", True),
        (8, "EXTRA = 1", "", False),
        (9, "def render_item(*args):", "", False),
        (14, "print('hello')", "run_migrations_online", False),
    ]
    assert code_not_carried(tmp_path / "env.py", "def (") == []
