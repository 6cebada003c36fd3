"""An app that upgrades its own database as it starts (inside its app
context, as a test fixture or a one-process deploy does), then serves.

    python upgrade_in_process.py RELEASE_DIR
"""

import os
import sys

release_dir = os.path.abspath(sys.argv[1])
sys.path.insert(0, release_dir)

import accounts  # noqa: E402
from alembic import command  # noqa: E402
from sqlalchemy import func  # noqa: E402
from sqlalchemy import select  # noqa: E402

from alembic_flask_env import alembic_config  # noqa: E402

app = accounts.create_app()
with app.app_context():
    command.upgrade(alembic_config(os.path.join(release_dir, "alembic.ini")), "head")
    account = accounts.Account(balance=1)
    setattr(account, accounts.NAME, "in-process")
    accounts.db.session.add(account)
    accounts.db.session.commit()
    count = accounts.db.session.execute(select(func.count(accounts.Account.id)))
    print("accounts:", count.scalar())
