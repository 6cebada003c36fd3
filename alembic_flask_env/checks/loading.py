"""What ``lint`` loads before it records a revision, as a run would.

A run loads revisions inside the app's context, after ``env.py`` has
imported its modules; real revisions rely on both: one reads
``flask.current_app`` when imported, one calls an operation a module
imported by ``env.py`` registered (``Operations.register_operation``). So
the lint pushes the app's context and imports what ``env.py`` imports
(its imports only: its code is not run). And one revision that cannot be
imported (a module that is not installed) must not hide the others: it is
kept in the history as a stand-in made of its identifiers, named with its
error, and the rest is linted.
"""

from __future__ import annotations

import ast
import importlib
import logging
import types
from collections.abc import Iterator
from contextlib import ExitStack
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from alembic.script import Script
from alembic.script.revision import RevisionMap

from ..errors import first_line

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

log = logging.getLogger(__name__)

#: What env.py imports that a lint has loaded already.
_OURS = ("alembic", "alembic_flask_env", "__future__")
#: The module-level names that place a revision in the history.
_IDENTIFIERS = ("revision", "down_revision", "branch_labels", "depends_on")


@dataclass(frozen=True)
class Unloadable:
    """A revision file that raised when imported."""

    path: str
    #: Its revision id, read from its syntax tree ("" when not found).
    revision: str
    #: The error's first line, every URL's password masked.
    error: str

    def line(self) -> str:
        which = (
            f"Revision {self.revision} ({self.path})"
            if self.revision
            else f"Revision file {self.path}"
        )
        return f"{which} could not be loaded, so it is not checked: {self.error}"


def tolerant(script: ScriptDirectory) -> list[Unloadable]:
    """Make ``script`` load its revisions one by one, keeping going past a
    revision that raises: it returns the list the failures go into, as the
    revisions are loaded (on first use of ``script``).
    """
    unloadable: list[Unloadable] = []
    script.revision_map = RevisionMap(lambda: _revisions(script, unloadable))
    return unloadable


def _revisions(
    script: ScriptDirectory, unloadable: list[Unloadable]
) -> Iterator[Script]:
    """Alembic's own loading of each file (``Script._from_path``), one
    file at a time.
    """
    seen = set()
    for location in script._version_locations:
        if not location.exists():
            continue
        for path in Script._list_py_dir(script, location):
            real = path.resolve()
            if real in seen:
                continue
            seen.add(real)
            try:
                loaded = Script._from_path(script, real)
            except Exception as error:
                stand_in = _stand_in(real)
                unloadable.append(
                    Unloadable(
                        str(real),
                        stand_in.revision if stand_in is not None else "",
                        f"{type(error).__name__}: {first_line(error)}",
                    )
                )
                loaded = stand_in
            if loaded is not None:
                yield loaded


def _stand_in(path: Path) -> Script | None:
    """The revision at ``path`` without its code: a module holding only
    its identifiers (literals read from its syntax tree, never run), so
    that the history around it holds together. None without a revision id.
    """
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return None
    module = types.ModuleType(path.stem)
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        for target in targets:
            if isinstance(target, ast.Name) and target.id in _IDENTIFIERS:
                try:
                    setattr(module, target.id, ast.literal_eval(value))
                except ValueError:
                    continue
    revision = getattr(module, "revision", None)
    if not isinstance(revision, str):
        return None
    for name in _IDENTIFIERS[1:]:
        if not hasattr(module, name):
            setattr(module, name, None)
    return Script(module, revision, path)


@contextmanager
def as_run_loads(config: Config, script: ScriptDirectory) -> Iterator[None]:
    """The app's context (when the app loads), and the modules ``env.py``
    imports, for the revisions loaded and recorded inside.
    """
    from ..app.context import app_in_context

    with ExitStack() as stack:
        try:
            stack.enter_context(app_in_context(config, {}))
        except Exception as error:
            log.warning(
                "lint: the Flask app was not loaded (%s), so revisions are"
                " loaded without its app context.",
                f"{type(error).__name__}: {first_line(error)}",
            )
        import_what_env_imports(Path(script.env_py_location))
        yield


def import_what_env_imports(env_py: Path) -> None:
    """Import each module ``env_py`` imports (an operation plugin
    registers its operations so); a module that cannot be imported is
    named, and the revisions that needed it are named as unchecked when
    they are recorded.
    """
    try:
        tree = ast.parse(env_py.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError) as error:
        log.warning(
            "lint: %s could not be read (%s), so what it imports is not imported.",
            env_py,
            first_line(error),
        )
        return
    for node in ast.walk(tree):
        for module, names in _imported(node):
            if module.split(".")[0] in _OURS:
                continue
            try:
                imported = importlib.import_module(module)
                for name in names:
                    if not hasattr(imported, name):  # a submodule, then
                        importlib.import_module(f"{module}.{name}")
            except Exception as error:
                log.warning(
                    "lint: %s (line %d) imports %s, which could not be imported"
                    " here (%s); a revision that needs it is named below as not"
                    " checked.",
                    env_py,
                    getattr(node, "lineno", 0),
                    module,
                    f"{type(error).__name__}: {first_line(error)}",
                )


def _imported(node: ast.AST) -> list[tuple[str, list[str]]]:
    """The modules an import statement imports, each with the names taken
    from it (``from X import Y``); a relative import (env.py is in no
    package) is none.
    """
    if isinstance(node, ast.Import):
        return [(alias.name, []) for alias in node.names]
    if not isinstance(node, ast.ImportFrom) or node.level or node.module is None:
        return []
    return [(node.module, [a.name for a in node.names if a.name != "*"])]
