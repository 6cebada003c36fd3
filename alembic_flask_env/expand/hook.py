"""Where a run meets expand/contract: every revision's ``upgrade`` and
``downgrade`` wrapped before the run (as :mod:`..runtime.revision_functions`
wraps them for flask-multidb), so that

- a revision marked ``expand_contract = True`` runs its expand phase
  (:mod:`.phase`) instead of its ops, and its ``downgrade`` aborts a
  pending expand;
- any revision upgraded past one awaiting contract is refused in one line.

Every marked revision's ops are recorded and checked when the run starts,
so an unsupported op is refused before anything runs; whether the database
can take an expand (PostgreSQL, one database, online) is decided as the
revision is about to run.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING
from typing import Any

from ..checks.skips import is_expand_contract
from ..errors import ExpandContractRefused

if TYPE_CHECKING:
    from alembic.script import Script
    from alembic.script import ScriptDirectory

    from .plan import Step

log = logging.getLogger(__name__)

_ORIGINAL = "__alembic_flask_env_expand_original__"


def prepare_expand_contract(
    script: ScriptDirectory,
    writes_versions: bool,
    lock_timeout: float | None,
    dialect: str,
) -> None:
    """Wrap each revision's functions as the module docstring says, for a
    command that ``writes_versions`` (upgrade, downgrade, stamp) on a
    database of ``dialect``; the backfill's batches wait ``lock_timeout``
    seconds at most for a lock (``table_lock_timeout``; None: as the server
    says).

    Only PostgreSQL can hold an expand awaiting its contract, so elsewhere
    only the marked revisions are wrapped (to be refused as they run), and
    a run without one imports nothing of expand/contract: recording
    revisions and planning their phases cost every run ~50 ms.

    :raises ExpandContractRefused: a marked revision with an op that
        cannot be phased.
    """
    if not writes_versions:
        return
    # Whether this run has looked for an expand awaiting its contract: once
    # is enough, since nothing in the run can leave one behind and go on
    # (an expand_contract revision is the run's last, or it is refused).
    checked: list[bool] = []
    for revision in script.walk_revisions():
        module = getattr(revision, "module", None)
        marked = is_expand_contract(revision)
        for direction in ("upgrade", "downgrade"):
            function = getattr(module, direction, None)
            if not callable(function):
                continue
            original = getattr(function, _ORIGINAL, function)
            if marked and direction == "upgrade":
                steps = _planned(revision, original)
                wrapper = _expanding(script, revision, original, steps, lock_timeout)
            elif marked:
                wrapper = _aborting(revision, original)
            elif direction == "upgrade" and dialect == "postgresql":
                wrapper = _guarded(revision, original, checked)
            else:
                continue
            setattr(wrapper, _ORIGINAL, original)
            setattr(module, direction, wrapper)


def _planned(revision: Script, upgrade: Callable[..., Any]) -> list[Step]:
    """The phases of a marked revision's ``upgrade``, from its recorded ops."""
    from ..checks.recording import record
    from .plan import plan_of

    return plan_of(revision, record(revision, upgrade, "postgresql"))


def _recording() -> bool:
    """Whether ``op`` is the checks' recording one (the checks record the
    revision functions too: they see the ops as written).
    """
    from alembic import op

    from ..checks.stand_in import StandInConnection

    return isinstance(op.get_bind(), StandInConnection)


def _expanding(
    script: ScriptDirectory,
    revision: Script,
    original: Callable[..., Any],
    steps: list[Step],
    lock_timeout: float | None,
) -> Callable[..., Any]:
    @functools.wraps(original)
    def upgrade(*arguments: Any, **keywords: Any) -> Any:
        if _recording():
            return original(*arguments, **keywords)
        from .phase import expand

        _refuse_where_unsupported(revision, keywords)
        _refuse_going_past(script, revision)
        expand(revision, steps, lock_timeout)
        return None

    return upgrade


def _aborting(revision: Script, original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def downgrade(*arguments: Any, **keywords: Any) -> Any:
        if _recording():
            return original(*arguments, **keywords)
        from .phase import abort_in_run

        if abort_in_run(revision):
            return None
        return original(*arguments, **keywords)

    return downgrade


def _guarded(
    revision: Script, original: Callable[..., Any], checked: list[bool]
) -> Callable[..., Any]:
    @functools.wraps(original)
    def upgrade(*arguments: Any, **keywords: Any) -> Any:
        if not checked and not _recording():
            from .phase import refuse_if_awaiting_contract

            refuse_if_awaiting_contract(revision)
            checked.append(True)
        return original(*arguments, **keywords)

    return upgrade


def _refuse_where_unsupported(revision: Script, keywords: dict[str, Any]) -> None:
    from alembic import context
    from alembic import op

    from ..settings import TENANTS_KEY
    from ..settings import find_setting
    from ..settings import read_x_arguments

    migration = op.get_context()
    dialect = migration.dialect.name
    why = ""
    if dialect != "postgresql":
        why = f"the database is {dialect}"
    elif "engine_name" in keywords:
        why = "this is a flask-multidb run (one database per bind)"
    elif migration.as_sql:
        why = (
            "this is an offline (--sql) run, and an expand is not one script:"
            " its backfill runs in batches, each its own transaction, resumed"
            " where it stopped"
        )
    elif (
        find_setting(
            context.config,
            read_x_arguments(context.get_x_argument(as_dictionary=False)),
            TENANTS_KEY,
        )
        is not None
    ):
        why = "this run migrates the tenants of flask_tenants"
    if why:
        raise ExpandContractRefused(
            f"Revision {revision.revision} ({revision.path}) is marked"
            f" expand_contract = True, and {why}; expand/contract works on"
            " PostgreSQL, one database, online, for now. Run it there, or"
            " remove expand_contract = True to run its ops as they are"
            " (the checks then hold them to their rules)."
        )


def _refuse_going_past(script: ScriptDirectory, revision: Script) -> None:
    """An expanded revision must be contracted before the next one runs:
    an upgrade to a destination past it is refused before it expands.
    """
    from alembic import context

    destination = context.get_revision_argument()
    if destination is None:
        return
    try:
        targets = {
            found.revision
            for found in script.get_revisions(destination)
            if found is not None
        }
    except Exception:  # a relative destination (+1): nothing to compare
        return
    if revision.revision not in targets:
        raise ExpandContractRefused(
            f"Revision {revision.revision} is marked expand_contract = True and"
            f" the upgrade goes past it (to {destination}); a later revision"
            " must wait until it is contracted. Run 'alembic upgrade"
            f" {revision.revision}', deploy the new release, run 'python -m"
            " alembic_flask_env contract', then upgrade on."
        )
