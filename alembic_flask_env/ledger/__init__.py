"""A ledger of every run: who migrated what, when, how long, and what
failed, in a table beside ``alembic_version`` (Alembic keeps only the
current revision; Flyway's ``flyway_schema_history`` is what teams expect).

:mod:`.table` defines the table (:mod:`.shape` makes it, or brings an
older one up to date), :mod:`.recorder` writes a row per revision step as
each step commits (through :mod:`.insert`), and the failure (with the steps
it rolled back) after the rollback, in a transaction of its own;
:mod:`.reading` is the ``python -m alembic_flask_env ledger`` command.
"""
