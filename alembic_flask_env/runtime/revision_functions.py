"""The per-bind functions of ``flask-multidb`` revisions.

A multi-database revision has ``upgrade_<bind>()`` and ``downgrade_<bind>()``
per bind, and its ``upgrade(engine_name)`` dispatches to them, doing nothing
for a bind that has no function. That is right for a revision written before
the bind existed, and silently wrong for one whose functions are named for
another naming scheme (Flask-Migrate's ``upgrade_()`` for the default bind)
or misspelled: the revision would run nothing and be stamped done.

So each revision's ``upgrade``/``downgrade`` is wrapped before the run, and
the wrapper decides as the revision is about to run for a bind (never
earlier, so that a fine revision runs even when a later one is wrong):

- it has a function for the bind: it runs (functions named after no bind of
  the app, a removed bind or a helper, are said once in the log);
- it has none, and no function named after something that is no bind: it
  predates the bind; nothing runs, said in the log;
- it has none, but functions named after something that is no bind: it is
  refused, since it was most likely meant for this bind under another name;
- its ``upgrade()`` takes no ``engine_name`` (a history that began with one
  database, binds added later): it runs for the default bind only.
"""

from __future__ import annotations

import functools
import inspect
import logging
import re
from collections.abc import Callable
from collections.abc import Collection
from typing import TYPE_CHECKING
from typing import Any

from ..errors import UnknownBindFunctions

if TYPE_CHECKING:
    from alembic.script import Script
    from alembic.script import ScriptDirectory

log = logging.getLogger(__name__)

#: A revision's function for one bind: upgrade_<bind>() or downgrade_<bind>().
_BIND_FUNCTION = re.compile(r"^(upgrade|downgrade)_(\w*)$")
#: Marks our wrapper, so that a second run in one process wraps the original.
_ORIGINAL = "__alembic_flask_env_original__"


def prepare_revisions(
    script: ScriptDirectory, engine_names: Collection[str], default_engine_name: str
) -> None:
    """Wrap every revision's ``upgrade`` and ``downgrade`` as the module
    docstring says, for a run over binds named ``engine_names`` in
    revisions.
    """
    said: set[tuple[str, str]] = set()
    for revision in script.walk_revisions():
        module = getattr(revision, "module", None)
        for direction in ("upgrade", "downgrade"):
            function = getattr(module, direction, None)
            if not callable(function):
                continue
            original = getattr(function, _ORIGINAL, function)
            wrapper = _checked(
                revision, direction, original, engine_names, default_engine_name, said
            )
            setattr(wrapper, _ORIGINAL, original)
            setattr(module, direction, wrapper)


def _checked(
    revision: Script,
    direction: str,
    original: Callable[..., Any],
    engine_names: Collection[str],
    default_engine_name: str,
    said: set[tuple[str, str]],
) -> Callable[..., Any]:
    single_database = "engine_name" not in inspect.signature(original).parameters

    @functools.wraps(original)
    def run(*arguments: Any, engine_name: str | None = None, **keywords: Any) -> Any:
        if engine_name is None:  # not a flask-multidb run
            return original(*arguments, **keywords)
        if single_database:
            if engine_name == default_engine_name:
                return original(*arguments, **keywords)
            log.info(
                "Revision %s is a single-database revision (its %s() takes no"
                " engine_name): it runs for the default bind only; nothing ran"
                " for %r.",
                revision.revision,
                direction,
                engine_name,
            )
            return None
        module = getattr(revision, "module", None)
        names = {
            name: match.group(2)
            for name, value in vars(module).items()
            if callable(value)
            and (match := _BIND_FUNCTION.match(name))
            and match.group(1) == direction
        }
        unknown = sorted(
            name for name, bind in names.items() if bind not in engine_names
        )
        if f"{direction}_{engine_name}" not in names:
            if unknown:
                raise _refusal(revision, names, unknown, engine_names, engine_name)
            log.info(
                "Revision %s has no %s_%s(): nothing ran for bind %r (the"
                " revision predates the bind).",
                revision.revision,
                direction,
                engine_name,
                engine_name,
            )
        elif unknown and (revision.revision, direction) not in said:
            said.add((revision.revision, direction))
            log.info(
                "Revision %s defines %s, named after no bind of the app: the"
                " environment does not run %s.",
                revision.revision,
                ", ".join(f"{name}()" for name in unknown),
                "it" if len(unknown) == 1 else "them",
            )
        return original(*arguments, engine_name=engine_name, **keywords)

    return run


def _refusal(
    revision: Script,
    names: dict[str, str],
    unknown: list[str],
    engine_names: Collection[str],
    engine_name: str,
) -> UnknownBindFunctions:
    binds = sorted({names[name] for name in unknown})
    if "" in binds and engine_name != "":
        fix = (
            "Revisions written by Flask-Migrate name the default bind ''"
            ' (upgrade_()): pass default_engine_name="" to'
            " run_multidb_migrations() in env.py, as 'python -m"
            " alembic_flask_env convert' does."
        )
    else:
        fix = (
            f"Rename the functions after the binds they are for (upgrade_"
            f"{engine_name}()), or delete the functions of a bind the app no"
            " longer has; a helper function must not be named upgrade_... or"
            " downgrade_... (call it _upgrade_... instead)."
        )
    return UnknownBindFunctions(
        f"Revision {revision.revision} ({revision.path}) defines"
        f" {', '.join(f'{name}()' for name in sorted(names))} but no"
        f" {unknown[0].split('_')[0]}_{engine_name}(), and"
        f" {', '.join(repr(bind) for bind in binds)}"
        f" {'is not a bind' if len(binds) == 1 else 'are not binds'} of the app;"
        f" its binds are named {', '.join(repr(name) for name in engine_names)}"
        f" in revisions. Running it would change nothing for bind"
        f" {engine_name!r} and mark it done. {fix}"
    )
