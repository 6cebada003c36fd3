"""The package's rooms and which may use which.

The subpackages are layers: the plugin (imported by Alembic on every
``import alembic``) stands alone on the standard library; the shared base
(errors, settings, URL masking) imports no subpackage; ``app`` may use
the base; ``checks`` may use ``app`` (the lint loads revisions inside the
app's context, as the environment does) and the base; ``runtime`` may use
``app``, ``checks`` and the base; ``convert`` may use the plugin's
template directory and the base. A module that imports a room above its
own would make a cycle waiting to happen, so this fails on it.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import alembic_flask_env

PACKAGE = Path(alembic_flask_env.__file__).parent

#: Each room and the rooms it may import from ("" is the top-level base).
ALLOWED: dict[str, set[str]] = {
    "": {""},
    "plugin": {"plugin"},
    "app": {"", "app"},
    "checks": {"", "app", "checks"},
    "ledger": {"", "ledger"},
    "tenants": {"", "app", "tenants"},
    "expand": {"", "app", "checks", "ledger", "expand"},
    "runtime": {"", "app", "checks", "expand", "ledger", "tenants", "runtime"},
    "convert": {"", "plugin", "convert"},
}
#: Top-level modules that sit above the rooms: the lazy API and the CLI.
ENTRY_POINTS = {"__init__", "__main__"}


def _modules() -> list[Path]:
    return sorted(
        path for path in PACKAGE.rglob("*.py") if "templates" not in path.parts
    )


def _room(path: Path) -> str:
    parts = path.relative_to(PACKAGE).parts
    return parts[0] if len(parts) > 1 else ""


def _runtime_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """The imports that run: those under ``if TYPE_CHECKING:`` only type."""
    skipped = {
        id(child)
        for node in ast.walk(tree)
        if isinstance(node, ast.If)
        and isinstance(node.test, ast.Name)
        and node.test.id == "TYPE_CHECKING"
        for child in ast.walk(node)
    }
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in skipped
    ]


def _imported_rooms(path: Path) -> set[str]:
    """The rooms of the package that ``path`` imports from."""
    package = list(path.parent.relative_to(PACKAGE).parts)
    rooms = set()
    for node in _runtime_imports(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - (node.level - 1)]
            target = [*base, *(node.module or "").split(".")]
        elif isinstance(node, ast.ImportFrom) and node.module:
            if not node.module.startswith("alembic_flask_env"):
                continue
            target = node.module.split(".")[1:]
        else:
            continue
        # "from . import template_lookup" names a module of the same room.
        first = next((part for part in target if part), "")
        if not first and isinstance(node, ast.ImportFrom):
            first = package[0] if package else ""
        rooms.add(first if (PACKAGE / first).is_dir() and first else "")
    return rooms


@pytest.mark.parametrize(
    "path", _modules(), ids=lambda path: str(path.relative_to(PACKAGE))
)
def test_no_module_imports_a_room_above_its_own(path: Path) -> None:
    if path.parent == PACKAGE and path.stem in ENTRY_POINTS:
        return
    room = _room(path)
    assert _imported_rooms(path) <= ALLOWED[room], (
        f"{path.relative_to(PACKAGE)} (room {room or 'base'!r}) imports from"
        f" {sorted(_imported_rooms(path) - ALLOWED[room])}"
    )


def test_the_plugin_imports_only_the_standard_library() -> None:
    for path in (PACKAGE / "plugin").rglob("*.py"):
        for node in _runtime_imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                assert top in sys.stdlib_module_names or top == "__future__", (
                    f"{path.relative_to(PACKAGE)} imports {name}"
                )


def _imported_modules(path: Path) -> set[str]:
    """The package's modules that ``path`` imports (at its top or inside a
    function: a lazy import is still a dependency), as dotted names below
    the package; ``from .x import y`` counts as ``x.y`` where that is a
    module, else ``x``.
    """
    package = list(path.parent.relative_to(PACKAGE).parts)
    found = set()
    for node in _runtime_imports(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level:
            base = package[: len(package) - (node.level - 1)]
            target = [*base, *filter(None, (node.module or "").split("."))]
        elif node.module and node.module.startswith("alembic_flask_env."):
            target = node.module.split(".")[1:]
        else:
            continue
        for alias in node.names:
            child = [*target, alias.name]
            if (PACKAGE.joinpath(*child).with_suffix(".py")).exists():
                found.add(".".join(child))
            elif target:
                found.add(".".join(target))
    return {name.removesuffix(".__init__") for name in found}


def _name(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE).with_suffix("").parts).removesuffix(
        ".__init__"
    )


def test_no_modules_import_each_other() -> None:
    """Not even through a lazy import, nor round a longer circle: a circle
    makes the order of imports matter, and a reader cannot follow a run
    from one module to the next. (A package's ``__init__`` may re-export
    what its own modules define.)
    """
    graph = {
        module: {
            other
            for other in imported
            if not (module.startswith(other + ".") or other.startswith(module + "."))
        }
        for module, imported in (
            (_name(path), _imported_modules(path)) for path in _modules()
        )
    }
    circles = []

    def walk(module: str, trail: list[str]) -> None:
        for other in sorted(graph.get(module, ())):
            if other in trail:
                circles.append(trail[trail.index(other) :])
            elif other not in done:
                walk(other, [*trail, other])
        done.add(module)

    done: set[str] = set()
    for module in sorted(graph):
        if module not in done:
            walk(module, [module])
    assert circles == []
