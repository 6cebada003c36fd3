"""Alembic environment for a Flask application.

All of the logic lives in the alembic_flask_env package, so upgrading that
package upgrades this environment. The app comes from flask_app under [tool.alembic] in
pyproject.toml (or -x flask_app=..., or FLASK_APP).
"""

from alembic_flask_env import run_migrations

run_migrations(
    # Keyword arguments go to Alembic's context.configure(), for example:
    # compare_server_default=True,
    # include_object=include_object,  # a function defined above
)
