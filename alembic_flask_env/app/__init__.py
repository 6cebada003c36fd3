"""From ``flask_app`` to an app and its database: loading the app the way
``flask --app`` does, pushing its context, and finding the engine and
metadata its SQLAlchemy extension (or Flask-Migrate's ``db``) provides.

Nothing here runs a migration; :mod:`alembic_flask_env.runtime` does.
"""
