"""Which Alembic command a run serves, asked of Alembic's context.

The steps of a run differ by command: only the commands that write
``alembic_version`` take the deploy lock, are checked, recorded in the
ledger and summarised; ``current`` and ``check`` must never wait for a
deploy. Alembic has no "which command is this?" question, so these read
what it hands the environment.
"""

from __future__ import annotations

from alembic import context

from .connection import CONNECTION_ATTRIBUTE


def writes_versions() -> bool:
    """Whether this command may change ``alembic_version`` (upgrade,
    downgrade, stamp): Alembic gives exactly those a destination revision.
    """
    try:
        # Documented to work before configure(), which the lock needs: it
        # is taken before the migration connection is opened. Alembic has
        # no "is there one?" question, and reads the argument from a dict.
        context.get_revision_argument()
    except KeyError:
        return False
    return True


def running_command() -> str:
    """The name of the ``alembic.command`` function this run serves
    (``"current"``, ``"history"``, ``"upgrade"``, ...). Alembic hands each
    command's own work function to the environment, and its qualified name
    starts with the command's; "" when there is none.
    """
    work = context.get_context().opts.get("fn")
    return str(getattr(work, "__qualname__", "")).split(".")[0]


def destination() -> str | None:
    """The revision the command goes to, for the telemetry span."""
    revision = context.get_revision_argument()
    if isinstance(revision, tuple):
        return ", ".join(revision)
    return revision


def migrates_own_engine() -> bool:
    """Whether the run migrates the app's own engine, not something handed
    in through ``config.attributes["connection"]`` (a test suite's, such as
    pytest-alembic's: its database is not ours to record in).
    """
    return context.config.attributes.get(CONNECTION_ATTRIBUTE) is None
