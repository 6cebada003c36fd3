"""``python -m alembic_flask_env convert``: turning a ``flask db init``
folder into one that plain ``alembic`` runs with this package.
"""
