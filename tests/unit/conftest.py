"""In-process tests of the pure parts: no subprocess, no server, no app."""

from __future__ import annotations

import sys
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.config import Config


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., Config]:
    """An Alembic ``Config`` for an ini (and optionally a pyproject.toml)
    written into ``tmp_path``, as the ``alembic`` command would build it.
    """

    def make(ini: str = "", toml: str | None = None) -> Config:
        ini_path = tmp_path / "alembic.ini"
        ini_path.write_text("[alembic]\n" + ini)
        toml_path = tmp_path / "pyproject.toml"
        if toml is not None:
            toml_path.write_text("[tool.alembic]\n" + toml)
        return Config(str(ini_path), toml_file=str(toml_path))

    return make


@pytest.fixture
def isolated_imports(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Restore ``sys.path`` and ``sys.modules`` afterwards, as Flask's own
    cli tests do: loading an app imports modules and prepends paths.
    """
    modules = dict(sys.modules)
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield
    for name in set(sys.modules) - set(modules):
        del sys.modules[name]
