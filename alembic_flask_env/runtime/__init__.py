"""Running a migration: the environments the templates' ``env.py`` calls,
the connection they run over, the deploy lock, bounded table-lock waits,
what a failure says and what a run reports.

Everything Alembic's ``context`` is used for lives here; the app and its
database come from :mod:`alembic_flask_env.app`.
"""
