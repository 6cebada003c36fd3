"""Alembic environment of the accounts app (the flask template's)."""

from alembic_flask_env import run_migrations

run_migrations()
