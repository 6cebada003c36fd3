"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
${imports if imports else ""}

# revision identifiers, used by Alembic.
revision: str = ${repr(up_revision)}
down_revision: Union[str, Sequence[str], None] = ${repr(down_revision)}
branch_labels: Union[str, Sequence[str], None] = ${repr(branch_labels)}
depends_on: Union[str, Sequence[str], None] = ${repr(depends_on)}


def upgrade(engine_name: str) -> None:
    """Upgrade the schema of one bind."""
    # A bind added after this revision was written has no function here.
    globals().get(f"upgrade_{engine_name}", lambda: None)()


def downgrade(engine_name: str) -> None:
    """Downgrade the schema of one bind."""
    globals().get(f"downgrade_{engine_name}", lambda: None)()

% for bind in binds:


def upgrade_${bind}() -> None:
    ${context.get(f"{bind}_upgrades", "pass")}


def downgrade_${bind}() -> None:
    ${context.get(f"{bind}_downgrades", "pass")}
% endfor
