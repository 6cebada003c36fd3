"""Start states made once per session (and xdist worker), then copied.

Many tests begin where ``alembic revision --autogenerate`` (and perhaps
``alembic upgrade head``) leave a project: a revision file, and SQLite
databases under ``instance/``. Those runs are the start state, not what the
test is about (the tests of autogenerate and upgrade themselves run them),
and each costs an ``alembic`` subprocess. So the first test to need a state
makes it with the real commands in a copy of its project, and every test
then gets a copy of what they wrote.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from harness import Project

#: What a start state is: the revisions and the SQLite databases.
_PARTS = ("migrations/versions", "instance")
_IGNORED = shutil.ignore_patterns("__pycache__")


class StartStates:
    """The states made so far, by name."""

    def __init__(self, directories: pytest.TempPathFactory) -> None:
        self._directories = directories
        self._made: dict[str, Path] = {}

    def restore(
        self,
        project: Project,
        name: str,
        make: Callable[[Project], None],
        *,
        base: tuple[str, Callable[[Project], None]] | None = None,
    ) -> None:
        """Put the state ``name`` into the fresh ``project``: made the first
        time by ``make`` (real ``alembic`` runs) in a copy of the project,
        with its environment, and copied from there. With ``base`` (a name
        and its ``make``), ``make`` starts from that state, restored (or
        made) first, rather than repeating its runs.

        ``name`` must tell apart every project, settings and environment a
        state is made for: a state is made once per name.
        """
        if name not in self._made:
            root = self._directories.mktemp(f"state-{name}") / "project"
            shutil.copytree(project.root, root, ignore=_IGNORED)
            state = Project(root)
            state.env = dict(project.env)
            if base is not None:
                self.restore(state, *base)
            make(state)
            self._made[name] = root
        for part in _PARTS:
            target, source = project.root / part, self._made[name] / part
            if target.exists():
                shutil.rmtree(target)
            if source.exists():
                shutil.copytree(source, target, ignore=_IGNORED)
