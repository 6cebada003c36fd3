"""The environment of the ``flask-multidb`` template: every Flask-SQLAlchemy
bind in one run, one revision for all of them.

Each bind is migrated over its own engine, in its own transaction, with its
own ``alembic_version`` table in its own database, the default bind
first, then the others by name. A revision has an ``upgrade_<bind>()`` and
``downgrade_<bind>()`` per bind; Alembic calls ``upgrade(engine_name)``,
which dispatches to them.

The default bind is ``default`` in revisions, in ``flask_binds`` and in the
log. Flask-Migrate's multi-database revisions call it ``''`` instead
(``upgrade_()``), and revision files are history that must not be edited,
so a folder converted from ``flask db`` passes ``default_engine_name=""``.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Collection
from typing import TYPE_CHECKING
from typing import Any

from .database import DEFAULT_BIND
from .errors import FlaskEnvError
from .errors import UnknownBindFunctions
from .settings import BINDS_KEY
from .settings import Setting

if TYPE_CHECKING:
    from types import ModuleType
    from types import TracebackType

    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.runtime.migration import MigrationInfo
    from alembic.script import ScriptDirectory

log = logging.getLogger(__name__)

#: A revision's function for one bind: upgrade_<bind>() or downgrade_<bind>().
_BIND_FUNCTION = re.compile(r"^(upgrade|downgrade)_(\w*)$")


def run_multidb_migrations(
    *,
    default_engine_name: str = DEFAULT_BIND,
    skip_empty_autogenerate: bool = True,
    **configure_options: Any,
) -> None:
    """Run the migrations of every bind (or those ``flask_binds`` names)
    of the Flask app named by ``flask_app``.

    A failure in one bind rolls back that bind's transaction and stops the
    run, with the bind named in the log and the original traceback; binds
    before it stay migrated (they are other databases, committed on their own).
    Offline (``--sql``), each bind's SQL follows a ``-- Bind ...`` header.

    :param default_engine_name: the default bind's name in revision files
        (``upgrade_<name>()``); ``""`` for revisions Flask-Migrate wrote.
    :param skip_empty_autogenerate: as for
        :func:`~alembic_flask_env.run_migrations`; the revision is skipped
        only if no bind changed.
    :param configure_options: passed to ``context.configure()`` for every bind.
    """
    from alembic import context

    from .app_context import app_in_context
    from .connection import CONNECTION_ATTRIBUTE
    from .database import find_binds
    from .database import warn_if_empty
    from .environment import context_options
    from .environment import migrate_database
    from .environment import refuse_unknown_options
    from .environment import start_run
    from .flask_migrate_compat import call_configure_callbacks
    from .settings import find_setting

    refuse_unknown_options(configure_options, "run_multidb_migrations")
    config, x_arguments, lock_settings = start_run(context)
    if config.attributes.get(CONNECTION_ATTRIBUTE) is not None:
        raise FlaskEnvError(
            f"config.attributes[{CONNECTION_ATTRIBUTE!r}] is set, but the flask-multidb"
            " environment migrates one database per bind and cannot use a"
            " single connection. Leave it unset."
        )

    with app_in_context(config, x_arguments) as in_use:
        call_configure_callbacks(in_use.app, config)
        all_binds = find_binds(in_use.app, in_use.setting)
        selected = select_binds(
            list(all_binds), find_setting(config, x_arguments, BINDS_KEY)
        )
        engine_names = {
            name: default_engine_name if name == DEFAULT_BIND else name
            for name in all_binds
        }
        check_revision_functions(
            context.script, engine_names.values(), default_engine_name
        )
        done: list[str] = []
        try:
            for name in selected:
                database = all_binds[name]
                warn_if_empty(
                    database.metadata, in_use.app.name, in_use.setting.key, name
                )
                url = database.describe()
                log.info(
                    "Flask app %r, bind %r, database %s", in_use.app.name, name, url
                )
                if context.is_offline_mode():
                    config.print_stdout(f"\n-- Bind {name!r}: {url}\n")
                options = context_options(
                    in_use.app,
                    config,
                    database,
                    database.engine.dialect.name,
                    skip_empty_autogenerate,
                    {
                        "upgrade_token": f"{engine_names[name]}_upgrades",
                        "downgrade_token": f"{engine_names[name]}_downgrades",
                        "template_args": {"binds": list(engine_names.values())},
                        **configure_options,
                    },
                    databases_in_run=len(selected),
                )
                options["on_version_apply"] = (
                    *_as_tuple(options.get("on_version_apply")),
                    _logging_skipped_binds(name, engine_names[name]),
                )
                try:
                    with BindOutput(config, name) as output:
                        migrate_database(
                            context,
                            database.engine,
                            options,
                            lock_settings,
                            whose=f"bind {name!r} of Flask app {in_use.app.name!r}",
                            engine_name=engine_names[name],
                        )
                        output.command = running_command(context)
                except FlaskEnvError:
                    raise
                except Exception:
                    log.error(
                        "Migrating bind %r failed; its transaction was rolled"
                        " back. Binds migrated before it in this run: %s.",
                        name,
                        ", ".join(repr(d) for d in done) or "none",
                    )
                    raise
                done.append(name)
                if output.command == "history":
                    # Alembic prints the whole history on each run of the
                    # env: once is enough ("(current)" marks the first bind).
                    break
        finally:
            if in_use.loaded_here:
                for database in all_binds.values():
                    database.engine.dispose()


def select_binds(available: list[str], setting: Setting | None) -> list[str]:
    """The binds ``flask_binds`` names, in the app's order; all without it.

    :raises FlaskEnvError: a name is not a bind of the app.
    """
    if setting is None:
        return available
    wanted = [name.strip() for name in setting.value.split(",") if name.strip()]
    if not wanted:
        raise FlaskEnvError(
            f"{setting.describe()} names no bind. Set {BINDS_KEY} to some of"
            f" {', '.join(available)}, separated by commas, or leave it empty"
            " (or unset) for all."
        )
    unknown = [name for name in wanted if name not in available]
    if unknown:
        raise FlaskEnvError(
            f"{setting.describe()} names {', '.join(map(repr, unknown))}, which"
            f" {'is not a bind' if len(unknown) == 1 else 'are not binds'} of the"
            f" app. Its binds are: {', '.join(available)}. Set {BINDS_KEY} to"
            " some of them, separated by commas, or leave it empty for all."
        )
    return [name for name in available if name in wanted]


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


def _logging_skipped_binds(bind: str, engine_name: str) -> Any:
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


def _as_tuple(value: Any) -> tuple[Any, ...]:
    if value is None:
        return ()
    if callable(value):
        return (value,)
    return tuple(value)


def running_command(context: ModuleType) -> str:
    """The name of the ``alembic.command`` function this run serves
    (``"current"``, ``"history"``, ``"upgrade"``, ...). Alembic hands each
    command's own work function to the environment, and its qualified name
    starts with the command's; "" when there is none.
    """
    work = context.get_context().opts.get("fn")
    return str(getattr(work, "__qualname__", "")).split(".")[0]


class _Captured(io.StringIO):
    # Alembic encodes what it prints to the stream's encoding, "ascii" when
    # it has none, which would turn every other character into "?".
    encoding = "utf-8"


class BindOutput:
    """While one bind runs, collect what Alembic prints on stdout, then
    print it. For ``alembic current``, each line is labelled with the bind,
    and a bind at base (for which Alembic prints nothing) shows
    ``<bind>: <base>``, so that a person or a script can tell the binds
    apart.
    """

    def __init__(self, config: Config, bind: str) -> None:
        self.config = config
        self.bind = bind
        #: Set by the caller once the command is known.
        self.command = ""
        self._captured = _Captured()

    def __enter__(self) -> BindOutput:
        self._stdout = self.config.stdout
        self.config.stdout = self._captured
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.config.stdout = self._stdout
        lines = self._captured.getvalue().splitlines()
        if self.command == "current":
            lines = [f"{self.bind}: {line}" for line in lines or ["<base>"]]
        for line in lines:
            self.config.print_stdout(line)
