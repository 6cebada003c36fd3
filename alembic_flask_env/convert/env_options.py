"""What a customised Flask-Migrate ``env.py`` passed to Alembic that the
converted one would not.

Projects customise ``env.py`` (zou's passes ``render_item`` and
``include_object`` to ``context.configure()``). The converted ``env.py``
calls :func:`~alembic_flask_env.run_migrations`, which passes our defaults
and Flask-Migrate's ``Migrate(...)`` arguments, so each keyword the old file
gave ``context.configure()`` beyond the stock ones would be lost without a
word. They are read from the old file's syntax tree, never run.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

#: The keywords Flask-Migrate's own env.py templates pass, which the
#: environment sets itself.
_STOCK_OPTIONS = frozenset(
    {
        "connection",
        "url",
        "target_metadata",
        "literal_binds",
        "dialect_opts",
        # The multi-database template's, which the flask-multidb env sets
        # itself, and Flask-Migrate 2.x's empty-revision hook, done here.
        "output_buffer",
        "upgrade_token",
        "downgrade_token",
        "process_revision_directives",
    }
)


@dataclass(frozen=True)
class DroppedOption:
    name: str
    line: int
    #: The old file, for the message.
    path: Path

    def advice(self) -> str:
        return (
            f"{self.path} (line {self.line}) passed {self.name}= to"
            " context.configure(), which the new env.py does not: to keep it,"
            f" pass run_migrations({self.name}=...) in the new env.py, defining"
            " (or importing) it there as the old file did"
        )


def dropped_configure_options(path: Path, source: str) -> list[DroppedOption]:
    """Each non-stock keyword of every ``context.configure(...)`` call in
    ``source``, in the order they appear; none for a file that does not
    parse (conversion refuses such a file elsewhere, or it is not ours).
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    dropped: dict[str, DroppedOption] = {}
    for node in ast.walk(tree):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "configure"
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "context"
        ):
            continue
        for keyword in node.keywords:
            name = keyword.arg  # None for **conf_args: Migrate's, honoured
            if name is None or name in _STOCK_OPTIONS or name in dropped:
                continue
            dropped[name] = DroppedOption(name, keyword.value.lineno, path)
    return sorted(dropped.values(), key=lambda option: option.line)
