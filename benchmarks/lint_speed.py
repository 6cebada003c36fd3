"""How long the safe-migration lint takes on a long history.

    python benchmarks/lint_speed.py [--revisions 1000]

Writes that many revisions (each adds a column and an index to a table a
first revision created), then times ``python -m alembic_flask_env lint``
over all of them, end to end (the process, loading Alembic, the revision
files and the rules). Target: under 2 s for 1,000 revisions. Exits 1 when
it is missed.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_SECONDS = 2.0
REVISION = """from alembic import op
import sqlalchemy as sa

revision = {revision!r}
down_revision = {down!r}
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("item", sa.Column("c{number}", sa.Integer(), nullable=True))
    with op.get_context().autocommit_block():
        op.create_index(
            "ix_item_c{number}", "item", ["c{number}"], postgresql_concurrently=True
        )


def downgrade():
    op.drop_column("item", "c{number}")
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--revisions", type=int, default=1000)
    count = parser.parse_args().revisions
    root = Path(tempfile.mkdtemp())
    try:
        versions = root / "migrations" / "versions"
        versions.mkdir(parents=True)
        (root / "migrations" / "env.py").write_text("")
        (root / "migrations" / "script.py.mako").write_text("")
        (root / "alembic.ini").write_text("[alembic]\nscript_location = migrations\n")
        (versions / "r0.py").write_text(
            "from alembic import op\nimport sqlalchemy as sa\n\nrevision = 'r0'\n"
            "down_revision = None\nbranch_labels = None\ndepends_on = None\n\n\n"
            "def upgrade():\n    op.create_table('item', sa.Column('id', sa.Integer()))"
            "\n\n\ndef downgrade():\n    op.drop_table('item')\n"
        )
        for number in range(1, count + 1):
            (versions / f"r{number}.py").write_text(
                REVISION.format(
                    revision=f"r{number}", down=f"r{number - 1}", number=number
                )
            )
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "alembic_flask_env", "lint", "--range", "r0:heads"],
            cwd=root,
            capture_output=True,
            text=True,
        )
        seconds = time.perf_counter() - started
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(
        f"lint of {count} revisions: {seconds:.2f} s (exit {result.returncode},"
        f" {result.stdout.strip()[:60]!r}); target < {TARGET_SECONDS} s"
    )
    return 0 if seconds < TARGET_SECONDS and result.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
