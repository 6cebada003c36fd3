"""Statements that wait for every older transaction, under the deploy lock.

``CREATE INDEX CONCURRENTLY`` (and ``DROP INDEX``, ``REINDEX`` and
``DETACH PARTITION ... CONCURRENTLY``) wait, after their work, for every
transaction of the database whose snapshot is older than theirs. The lock
connection holds an open transaction for the whole run: should it keep a
snapshot, such a statement waits for the run's own lock forever. Each test
runs the real statement, after another revision of the same run.
"""

from __future__ import annotations

import pytest

from harness import Project
from harness import parallel_upgrades
from harness import query
from harness import use_transaction_per_migration
from harness import write_revision

ITEMS = """
op.execute("CREATE TABLE item (id serial PRIMARY KEY, name text, part int)")
op.execute("INSERT INTO item (name, part) SELECT 'n' || g, g % 2 FROM generate_series(1, 500) g")
"""


def write_concurrent_revisions(project: Project) -> None:
    """c1 makes a table; c2 builds an index on it concurrently, c3 rebuilds
    it concurrently, c4 drops it concurrently: each in an autocommit block,
    as the checks ask and autogenerate writes.
    """
    write_revision(project, "c1", None, ITEMS)
    write_revision(
        project,
        "c2",
        "c1",
        """
        with op.get_context().autocommit_block():
            op.create_index("ix_item_name", "item", ["name"], postgresql_concurrently=True)
        """,
    )
    write_revision(
        project,
        "c3",
        "c2",
        """
        with op.get_context().autocommit_block():
            op.execute("REINDEX INDEX CONCURRENTLY ix_item_name")
        op.execute("INSERT INTO item (name, part) VALUES ('after', 0)")
        """,
    )
    write_revision(
        project,
        "c4",
        "c3",
        """
        with op.get_context().autocommit_block():
            op.drop_index("ix_item_name", table_name="item", postgresql_concurrently=True)
        """,
    )


@pytest.mark.postgresql
@pytest.mark.parametrize("per_migration", [False, True])
def test_concurrent_index_statements_after_another_revision(
    pg: Project, per_migration: bool
) -> None:
    if per_migration:
        use_transaction_per_migration(pg)
    write_concurrent_revisions(pg)
    pg.alembic("-x", "table_lock_timeout=5", "upgrade", "head")
    assert query(pg, "SELECT version_num FROM alembic_version") == [("c4",)]
    assert query(pg, "SELECT count(*) FROM item") == [(501,)]
