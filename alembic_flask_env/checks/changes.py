"""What a revision does to a table, whichever way it was written: one
vocabulary for Alembic's operation objects and for parsed SQL, so that a
rule is written once.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field


@dataclass(frozen=True)
class Change:
    #: What is done: create_table, create_index, drop_index, add_column,
    #: set_not_null, alter_type, rename_column, rename_table, drop_column,
    #: drop_table, add_foreign_key, add_check, add_unique, add_exclusion,
    #: validate_constraint.
    kind: str
    table: str | None
    #: The revision file and the line of the ``op`` call (or of the
    #: ``op.execute()`` that held the SQL).
    path: str
    line: int
    revision: str
    #: The index, column or constraint concerned, for the message.
    name: str = ""
    concurrently: bool = False
    #: Inside ``op.get_context().autocommit_block()``.
    in_autocommit_block: bool = False
    not_null: bool = False
    #: The column's server default, as SQL text ("" for none).
    default: str = ""
    #: json, a stored generated column, an auto-incrementing column.
    column_traits: frozenset[str] = field(default_factory=frozenset)
    not_valid: bool = False
    #: A CHECK constraint's condition, as SQL.
    condition: str = ""
    #: For alter_type: the types as SQL, "" when unknown.
    old_type: str = ""
    new_type: str = ""
    #: The table's schema when the operation names one (``schema=``).
    schema: str | None = None
    #: An index's or UNIQUE constraint's arguments as Python source, for the
    #: safe form a finding prints: the columns (empty: not known) and the
    #: other keywords (``unique=True``, ``postgresql_where=...``), so that
    #: pasting the advice keeps what the revision asked for.
    columns: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()

    def arguments(self) -> str:
        """``['a', 'b'], unique=True`` (``[...]`` where the columns are not
        known), for the advice.
        """
        columns = f"[{', '.join(self.columns)}]" if self.columns else "[...]"
        return ", ".join((columns, *self.keywords))
