"""Alembic environment for a Flask application with several binds.

All of the logic lives in the alembic_flask_env package, so upgrading that
package upgrades this environment. The app comes from 'flask_app' in
alembic.ini (or -x flask_app=..., or FLASK_APP); 'flask_binds' limits the
run to some binds.
"""

from alembic_flask_env import run_multidb_migrations

run_multidb_migrations(
    # Keyword arguments go to Alembic's context.configure() for every bind,
    # for example:
    # compare_server_default=True,
)
