"""Release 2: account.name is full_name, and balance a bigint; expanded and
contracted, so that release 1 keeps serving meanwhile.

Revision ID: a2
Revises: a1
"""

import sqlalchemy as sa
from alembic import op

revision = "a2"
down_revision = "a1"
branch_labels = None
depends_on = None
expand_contract = True


def upgrade():
    op.alter_column("account", "name", new_column_name="full_name")
    op.alter_column("account", "balance", type_=sa.BigInteger())


def downgrade():
    op.alter_column("account", "balance", type_=sa.Integer())
    op.alter_column("account", "full_name", new_column_name="name")
