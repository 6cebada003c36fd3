"""``migration_checks_skip = {"rule-id": "the reason"}`` in a revision.

A skip without a reason is refused: the next reader of the revision must
learn why a blocking statement was judged fine, and when.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import InvalidSetting

if TYPE_CHECKING:
    from alembic.script import Script

SKIP_ATTRIBUTE = "migration_checks_skip"
#: Marks a revision whose upgrade is phased by expand/contract (issue 25):
#: its ops are not run as written, so the rules do not apply to them.
EXPAND_CONTRACT_ATTRIBUTE = "expand_contract"


def is_expand_contract(revision: Script) -> bool:
    """Whether ``revision`` sets ``expand_contract = True``."""
    module = getattr(revision, "module", None)
    return getattr(module, EXPAND_CONTRACT_ATTRIBUTE, False) is True


def skipped_rules(revision: Script) -> dict[str, str]:
    """The rules ``revision`` skips, with their reasons.

    :raises InvalidSetting: a skip that is not a dict, names no rule, or
        gives no reason.
    """
    # (The rules are imported only by a run that has skips to check.)
    from .rules import RULE_IDS

    module = getattr(revision, "module", None)
    skips = getattr(module, SKIP_ATTRIBUTE, None)
    if skips is None:
        return {}
    where = f"{SKIP_ATTRIBUTE} in revision {revision.revision} ({revision.path})"
    example = (
        f'{SKIP_ATTRIBUTE} = {{"require-concurrent-index-creation": "orders has 40'
        ' rows; checked with the DBA, 2026-12-01"}'
    )
    if not isinstance(skips, dict):
        raise InvalidSetting(
            f"{where} is a {type(skips).__name__}; write a dict of rule ids and"
            f" reasons, for example {example}."
        )
    for rule, reason in skips.items():
        if rule not in RULE_IDS:
            raise InvalidSetting(
                f"{where} names {rule!r}, which is no rule. The rules are:"
                f" {', '.join(sorted(RULE_IDS))}."
            )
        if not isinstance(reason, str) or not reason.strip():
            raise InvalidSetting(
                f"{where} skips {rule!r} without a reason. Say why the statement"
                f" is safe here, and who checked it, for example {example}."
            )
    return dict(skips)
