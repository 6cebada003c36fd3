"""Safe migrations: what each revision does to a live app, checked before
it runs (and by ``python -m alembic_flask_env lint`` in CI).

A revision's operations are recorded by running its ``upgrade()`` (or
``downgrade()``) against Alembic operations that record instead of execute
(:mod:`.recording`); raw SQL in ``op.execute()`` is parsed with PostgreSQL's
own parser (:mod:`.sql`). Each operation becomes a :class:`.changes.Change`,
and each rule in :mod:`.rules` (one a module, named as squawk names it)
says whether that change blocks the app, given what the live database says
of the table (:mod:`.facts`).
"""

#: The databases the rules know. (Here, not in a module that imports the
#: rules: the environment asks before it pays for importing them.)
CHECKED_DIALECTS = ("postgresql", "mysql", "mariadb")
