"""What the environment passes to Alembic's ``context.configure()``.

Our defaults come first, then a Flask-Migrate app's ``Migrate(...)``
arguments, then the keyword arguments of ``run_migrations()`` in ``env.py``,
which are checked: ``context.configure()`` takes ``**kw`` and would silently
ignore a misspelt name. The ``process_revision_directives`` hook we add keeps
autogenerate from writing a revision that drops every table because the
models were never imported, and from writing one that changes nothing.
"""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Sequence
from typing import TYPE_CHECKING
from typing import Any

from alembic.operations.ops import DropTableOp
from alembic.runtime.environment import EnvironmentContext

from ..app.flask_migrate import migrate_configure_args
from ..errors import EmptyMetadata
from ..errors import InvalidSetting
from ..errors import did_you_mean
from ..settings import APP_KEY
from .dialects import MYSQL_DIALECTS

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.operations import MigrationScript
    from alembic.runtime.migration import MigrationContext
    from flask import Flask
    from sqlalchemy.schema import MetaData

log = logging.getLogger(__name__)

RevisionDirectivesHook = Callable[
    ["MigrationContext", "str | Iterable[str | None]", "list[MigrationScript]"],
    None,
]

#: What SQLAlchemy and Alembic call the dialects whose options (such as
#: ``mssql_batch_separator``) ``context.configure()`` passes on.
_DIALECT_PREFIXES = ("mssql", "mysql", "mariadb", "oracle", "postgresql", "sqlite")

#: The parameters of ``context.configure()``, bar ``self`` and ``**kw``,
#: and those it documents but takes through ``**kw`` (``version_table``,
#: ``version_table_schema``, ``version_table_pk``, ``output_encoding``).
CONFIGURE_PARAMETERS = tuple(
    dict.fromkeys(
        [
            name
            for name, parameter in inspect.signature(
                EnvironmentContext.configure
            ).parameters.items()
            if name != "self" and parameter.kind is not parameter.VAR_KEYWORD
        ]
        + re.findall(r":param (\w+):", EnvironmentContext.configure.__doc__ or "")
    )
)


def context_options(
    app: Flask,
    config: Config,
    metadata: MetaData,
    dialect_name: str,
    skip_empty_autogenerate: bool,
    overrides: dict[str, Any],
    databases_in_run: int = 1,
    *,
    safe_autogenerate: bool = True,
    ignored_tables: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """Our defaults for ``context.configure()``, then a Flask-Migrate app's
    ``Migrate(...)`` arguments, then ``env.py``'s own.

    :param databases_in_run: how many databases one autogenerate compares;
        Alembic calls the revision hook after each, and the revision is empty
        only if all of them found nothing.
    :param safe_autogenerate: on PostgreSQL, have autogenerate write the
        forms the safe-migration checks pass (``migration_checks_autogenerate``).
    :param ignored_tables: tables of ours (the ledger) that autogenerate
        never proposes to drop, whatever ``include_object`` says.
    """
    options: dict[str, Any] = {
        "target_metadata": metadata,
        "compare_type": True,
        # SQLite cannot ALTER most things; batch mode recreates the table.
        "render_as_batch": dialect_name == "sqlite",
        # MySQL commits every DDL statement at once, so one transaction per
        # run cannot be rolled back anyway; one per revision at least keeps
        # alembic_version at the last revision that completed.
        "transaction_per_migration": dialect_name in MYSQL_DIALECTS,
    }
    options.update(migrate_configure_args(app))
    options.update(overrides)
    skip_empty = skip_empty_autogenerate and getattr(
        config.cmd_opts, "autogenerate", False
    )
    options["include_object"] = _ignoring(ignored_tables, options.get("include_object"))
    options["process_revision_directives"] = _revision_hook(
        options.get("process_revision_directives"),
        options["target_metadata"],
        app.name,
        databases_in_run if skip_empty else None,
        safe_forms=safe_autogenerate and dialect_name == "postgresql",
    )
    return options


def refuse_unknown_options(options: dict[str, Any], function: str) -> None:
    """Refuse keyword arguments that ``context.configure()`` would accept
    silently and ignore, such as ``compare_server_defaults=True``.

    :raises InvalidSetting: a name is neither a parameter of
        ``context.configure()`` nor a dialect option.
    """
    for name in options:
        if name in CONFIGURE_PARAMETERS or name.split("_", 1)[0] in _DIALECT_PREFIXES:
            continue
        guess = did_you_mean(name, CONFIGURE_PARAMETERS)
        raise InvalidSetting(
            f"{function}({name}=...) in env.py: {name!r} is not a parameter of"
            f" Alembic's context.configure(), which would ignore it.{guess} Pass"
            " only parameters of context.configure(), or dialect options named"
            " after their dialect (such as mssql_batch_separator)."
        )


def _ignoring(
    tables: frozenset[str], user_hook: Callable[..., bool] | None
) -> Callable[..., bool]:
    """Alembic's ``include_object``: never a table of ours that the models
    do not have, then the user's hook.
    """

    def include_object(
        obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
    ) -> bool:
        if type_ == "table" and reflected and compare_to is None and name in tables:
            return False
        return user_hook is None or user_hook(obj, name, type_, reflected, compare_to)

    return include_object


def has_tables(metadata: MetaData | Sequence[MetaData] | None) -> bool:
    """Whether the target metadata has a table: Alembic takes one
    ``MetaData`` or a sequence of them as ``target_metadata``.
    """
    if metadata is None:
        return False
    if isinstance(metadata, Sequence):
        return any(has_tables(each) for each in metadata)
    return bool(metadata.tables)


def _revision_hook(
    user_hook: RevisionDirectivesHook | None,
    metadata: MetaData | Sequence[MetaData] | None,
    app_name: str,
    databases_in_run: int | None,
    *,
    safe_forms: bool,
) -> RevisionDirectivesHook:
    """Alembic's ``process_revision_directives``: the user's hook, then a
    refusal to drop every table because the models were never imported,
    then (when ``databases_in_run`` is given) dropping an autogenerated
    revision that found no change in any of that many databases.
    """

    def process_revision_directives(
        context: MigrationContext,
        revision: str | Iterable[str | None],
        directives: list[MigrationScript],
    ) -> None:
        if user_hook is not None:
            user_hook(context, revision, directives)
        if not has_tables(metadata):
            _refuse_dropping_everything(directives, app_name)
        if safe_forms:
            # (Imported here: only autogenerate needs Alembic's renderers
            # and the PostgreSQL dialect.)
            from ..checks.autogenerate import write_safe_forms

            write_safe_forms(directives)
        if (
            databases_in_run is not None
            and directives
            and all(
                len(script.upgrade_ops_list) >= databases_in_run
                and all(ops.is_empty() for ops in script.upgrade_ops_list)
                for script in directives
            )
        ):
            directives[:] = []
            log.info("No changes in schema detected.")

    return process_revision_directives


def _refuse_dropping_everything(
    directives: list[MigrationScript], app_name: str
) -> None:
    """:raises EmptyMetadata: the revision would drop tables although the
    metadata has none, which means the models were not imported, not that
    every table is to go.
    """
    for script in directives:
        # The last UpgradeOps is the database compared just now.
        dropped = [
            op.table_name
            for ops in script.upgrade_ops_list[-1:]
            for op in ops.ops
            if isinstance(op, DropTableOp)
        ]
        if dropped:
            raise EmptyMetadata(
                f"The metadata of Flask app {app_name!r} has no tables, so"
                f" autogenerate would drop every table of the database"
                f" ({', '.join(sorted(dropped))}); no revision was written. Most"
                f" often the models module is never imported by the code that"
                f" {APP_KEY} names; import it there. To drop every table on"
                " purpose, write that revision by hand ('alembic revision -m"
                " ...' and op.drop_table())."
            )


def as_tuple(hooks: Any) -> tuple[Any, ...]:
    """``on_version_apply`` as Alembic takes it (a callable or a collection
    of them, or None), as a tuple, so that ours can be added.
    """
    if hooks is None:
        return ()
    if callable(hooks):
        return (hooks,)
    return tuple(hooks)
