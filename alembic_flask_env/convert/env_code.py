"""What a customised Flask-Migrate ``env.py`` ran that the converted one
does not: every import and every statement beyond Flask-Migrate's own.

The converted ``env.py`` only calls
:func:`~alembic_flask_env.run_migrations`; the old file is kept beside it,
but whatever it imported or ran is gone from every run unless the user
carries it over. Some of that matters: a module imported for its side
effect (an operation plugin registering ``op.sync_enum_values``, which
revisions then call), an event listener, a ``SET search_path`` before the
run. So each such line is named. The old file is read as a syntax tree,
never run, and compared with Flask-Migrate's templates (when Flask-Migrate
is installed; without it, with what they are known to hold).
"""

from __future__ import annotations

import ast
import importlib.util
from dataclasses import dataclass
from pathlib import Path

#: What Flask-Migrate's templates import (every version's).
_STOCK_MODULES = frozenset(
    {
        "__future__",
        "logging",
        "logging.config",
        "flask",
        "alembic",
        "sqlalchemy",
        "asyncio",
        "re",
    }
)
#: The names its templates assign at the top of env.py.
_STOCK_NAMES = frozenset(
    {
        "config",
        "logger",
        "target_db",
        "target_metadata",
        "USE_TWOPHASE",
        "bind_names",
        "db_names",
    }
)
#: The functions its templates define.
_STOCK_FUNCTIONS = frozenset(
    {
        "get_engine",
        "get_engine_url",
        "get_metadata",
        "run_migrations_offline",
        "run_migrations_online",
        "do_run_migrations",
        "run_async_migrations",
        "process_revision_directives",
    }
)
#: Top-level calls its templates make.
_STOCK_CALLS = frozenset({"fileConfig", "set_main_option"})


@dataclass(frozen=True)
class NotCarried:
    """A line of the old env.py that the new one does not run."""

    path: Path
    line: int
    #: The statement's first line, as written.
    text: str
    #: The stock function it is in, "" at the top of the file.
    function: str = ""
    is_import: bool = False

    def advice(self) -> str:
        where = f" in {self.function}()" if self.function else ""
        if self.is_import:
            return (
                f"{self.path} (line {self.line}) ran '{self.text}', which the new"
                " env.py does not: if the revisions or the app need it (an"
                " operation plugin registers its op.* functions when imported),"
                " add the import to the new env.py (python -m alembic_flask_env"
                " lint imports what env.py imports)"
            )
        return (
            f"{self.path} (line {self.line}) ran '{self.text}'{where}, which the"
            " new env.py does not: carry it over by hand if it is still needed"
        )


def code_not_carried(path: Path, source: str) -> list[NotCarried]:
    """Each import and statement of ``source`` that is not Flask-Migrate's,
    in file order; none for a file that does not parse.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    lines = source.splitlines()
    templates = _template_statements()
    named: list[NotCarried] = []

    def name(node: ast.stmt, function: str = "", is_import: bool = False) -> None:
        text = lines[node.lineno - 1].strip() if node.lineno <= len(lines) else ""
        named.append(NotCarried(path, node.lineno, text, function, is_import))

    for index, node in enumerate(tree.body):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            if not _stock_import(node):
                name(node, is_import=True)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if node.name not in _STOCK_FUNCTIONS:
                name(node)
            elif templates is not None:
                stock = templates.get(node.name, set())
                for statement in _flattened(node):
                    if _dump(statement) not in stock and not _configures(statement):
                        name(statement, node.name)
        elif index == 0 and _is_docstring(node):
            continue
        elif not _stock_statement(node, templates):
            name(node)
    return sorted(named, key=lambda item: item.line)


def _stock_import(node: ast.Import | ast.ImportFrom) -> bool:
    if isinstance(node, ast.ImportFrom):
        return not node.level and (node.module or "") in _STOCK_MODULES
    return all(alias.name in _STOCK_MODULES for alias in node.names)


def _stock_statement(node: ast.stmt, templates: dict[str, set[str]] | None) -> bool:
    if templates is not None and _dump(node) in templates[""]:
        return True
    if isinstance(node, (ast.Assign, ast.AnnAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return all(
            isinstance(target, ast.Name) and target.id in _STOCK_NAMES
            for target in targets
        )
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
        function = node.value.func
        called = function.attr if isinstance(function, ast.Attribute) else ""
        called = function.id if isinstance(function, ast.Name) else called
        return called in _STOCK_CALLS
    if isinstance(node, ast.If):
        # The offline/online switch, and the multidb template's binds.
        test = ast.unparse(node.test)
        return "is_offline_mode" in test or "SQLALCHEMY_BINDS" in test
    if isinstance(node, ast.For):
        return ast.unparse(node.iter) in ("bind_names", "db_names")
    return False


def _is_docstring(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


def _configures(node: ast.stmt) -> bool:
    """A ``context.configure(...)`` call: its keywords are named by
    :mod:`.env_options`, the call itself is what the new env.py does.
    """
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Call)
        and ast.unparse(node.value.func) == "context.configure"
    )


def _flattened(function: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.stmt]:
    """The simple statements of ``function``, nested blocks opened (a
    compound statement is kept without its body, as its header), nested
    functions included; docstrings left out.
    """
    statements: list[ast.stmt] = []
    pending = list(function.body)
    while pending:
        node = pending.pop(0)
        if _is_docstring(node):
            continue
        bodies = [
            getattr(node, field)
            for field in ("body", "orelse", "finalbody", "handlers")
            if isinstance(getattr(node, field, None), list)
        ]
        if not bodies:
            statements.append(node)
            continue
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            statements.append(node)
        pending[:0] = [child for body in bodies for child in body]
    return statements


def _dump(node: ast.AST) -> str:
    """A statement as compared: its syntax, not its place or layout (and
    a compound statement by its header alone).
    """
    if isinstance(node, ast.stmt) and any(
        isinstance(getattr(node, field, None), list)
        for field in ("body", "orelse", "finalbody", "handlers")
    ):
        return ast.unparse(node).splitlines()[0]
    return ast.dump(node, annotate_fields=False, include_attributes=False)


def _template_statements() -> dict[str, set[str]] | None:
    """The statements of every Flask-Migrate env.py template: "" for the
    top of the file, else by the function they are in; None when
    Flask-Migrate is not installed.
    """
    spec = importlib.util.find_spec("flask_migrate")
    if spec is None or spec.origin is None:
        return None
    statements: dict[str, set[str]] = {"": set()}
    for env_py in sorted((Path(spec.origin).parent / "templates").glob("*/env.py")):
        try:
            tree = ast.parse(env_py.read_text(encoding="utf-8"))
        except (OSError, SyntaxError, UnicodeDecodeError):
            continue
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found = statements.setdefault(node.name, set())
                found.update(_dump(statement) for statement in _flattened(node))
            else:
                statements[""].add(_dump(node))
    return statements
