"""Every rule, one a module; the ids are squawk's where squawk has the
rule, so a team that knows squawk knows these.
"""

from __future__ import annotations

from . import adding_auto_incrementing_column
from . import adding_exclusion_constraint
from . import adding_field_with_default
from . import adding_foreign_key_constraint
from . import adding_json_column
from . import adding_not_nullable_field
from . import adding_required_field
from . import adding_stored_generated_column
from . import ban_concurrent_index_creation_in_transaction
from . import ban_drop_column
from . import ban_drop_table
from . import changing_column_type
from . import constraint_missing_not_valid
from . import disallowed_unique_constraint
from . import renaming_column
from . import renaming_table
from . import require_concurrent_index_creation
from . import require_concurrent_index_deletion
from .base import Rule

RULES: tuple[Rule, ...] = tuple(
    module.RULE
    for module in (
        require_concurrent_index_creation,
        require_concurrent_index_deletion,
        ban_concurrent_index_creation_in_transaction,
        adding_not_nullable_field,
        adding_required_field,
        adding_field_with_default,
        adding_foreign_key_constraint,
        constraint_missing_not_valid,
        changing_column_type,
        renaming_column,
        renaming_table,
        ban_drop_column,
        ban_drop_table,
        disallowed_unique_constraint,
        adding_json_column,
        adding_stored_generated_column,
        adding_auto_incrementing_column,
        adding_exclusion_constraint,
    )
)
RULE_IDS = frozenset(rule.id for rule in RULES)
#: Rules about the code of the release still running, not about locks: a
#: downgrade undoes what an upgrade added, so they do not apply to it.
RUNNING_CODE_RULES = frozenset(
    {"renaming-column", "renaming-table", "ban-drop-column", "ban-drop-table"}
)
