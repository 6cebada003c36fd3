"""Many tenants in one run: a schema or a database per tenant.

``flask_tenants`` names a callable of the app that lists the tenants. This
room holds what does not depend on how one tenant is migrated: reading the
tenant keys, listing and checking the tenants, choosing which to run
(``-x tenants=``, ``tenant_shard``), running them in worker processes, and
the progress log and the report, and keeping a schema tenant's statements
in its schema (:mod:`.schemas`). Configuring Alembic for one tenant is the
runtime's (:mod:`..runtime.tenanted`).
"""
