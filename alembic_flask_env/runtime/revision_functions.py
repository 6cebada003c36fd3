"""The per-bind functions of ``flask-multidb`` revisions.

A multi-database revision has ``upgrade_<bind>()`` and ``downgrade_<bind>()``
per bind, and its ``upgrade(engine_name)`` dispatches to them, doing nothing
for a bind that has no function. That is right for a revision written before
the bind existed, and silently wrong for one whose functions are named for
another naming scheme (Flask-Migrate's ``upgrade_()`` for the default bind)
or for a bind the app does not have: the revision would run nothing and be
stamped done. So the names are checked before anything runs, and each skip
is logged.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection
from typing import TYPE_CHECKING
from typing import Any

from ..errors import UnknownBindFunctions

if TYPE_CHECKING:
    from alembic.runtime.migration import MigrationContext
    from alembic.runtime.migration import MigrationInfo
    from alembic.script import ScriptDirectory

log = logging.getLogger(__name__)

#: A revision's function for one bind: upgrade_<bind>() or downgrade_<bind>().
_BIND_FUNCTION = re.compile(r"^(upgrade|downgrade)_(\w*)$")


def check_revision_functions(
    script: ScriptDirectory, engine_names: Collection[str], default_engine_name: str
) -> None:
    """Refuse a revision with ``upgrade_<x>()``/``downgrade_<x>()`` for an
    ``x`` that is no bind of the app: its dispatch would find no function
    for the real binds, run nothing, and stamp the revision done.

    :raises UnknownBindFunctions: the first such revision.
    """
    for revision in script.walk_revisions():
        module = getattr(revision, "module", None)
        functions = {
            name: match.group(2)
            for name, value in vars(module).items()
            if callable(value) and (match := _BIND_FUNCTION.match(name))
        }
        unknown = sorted({bind for bind in functions.values()} - set(engine_names))
        if not unknown:
            continue
        if "" in unknown and default_engine_name != "":
            fix = (
                "Revisions written by Flask-Migrate name the default bind ''"
                ' (upgrade_()): pass default_engine_name="" to'
                " run_multidb_migrations() in env.py, as 'python -m"
                " alembic_flask_env convert' does."
            )
        else:
            fix = (
                "Rename the functions after the binds they are for, or delete"
                " the functions of a bind the app no longer has."
            )
        raise UnknownBindFunctions(
            f"Revision {revision.revision} ({revision.path}) defines"
            f" {', '.join(f'{name}()' for name in sorted(functions))}, but"
            f" {', '.join(repr(bind) for bind in unknown)}"
            f" {'is not a bind' if len(unknown) == 1 else 'are not binds'} of"
            f" the app; its binds are named"
            f" {', '.join(repr(name) for name in engine_names)} in revisions."
            f" Running it would change nothing and mark it done. {fix}"
        )


def logging_skipped_binds(bind: str, engine_name: str) -> Any:
    """An ``on_version_apply`` hook that says when a revision had no
    function for this bind (it was written before the bind existed), so
    that running nothing for it is never silent.
    """

    def on_version_apply(
        *,
        ctx: MigrationContext,
        step: MigrationInfo,
        heads: set[str],
        run_args: dict[str, Any],
    ) -> None:
        if step.is_stamp:
            return
        revision = step.up_revision
        function = f"{'upgrade' if step.is_upgrade else 'downgrade'}_{engine_name}"
        module = getattr(revision, "module", None)
        if revision is not None and not hasattr(module, function):
            log.info(
                "Revision %s has no %s(): nothing ran for bind %r (the"
                " revision predates the bind).",
                revision.revision,
                function,
                bind,
            )

    return on_version_apply
