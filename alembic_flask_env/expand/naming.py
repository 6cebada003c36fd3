"""Names shared by the expand/contract machinery and ``VersionedSchema``.

Both sides must agree on them without importing each other's internals:
the state table tells the app which version schema to put first on its
``search_path``, and the schema's name is derived from the revision alone
so that a release can compute it from its own migrations folder.
"""

from __future__ import annotations

import re

STATE_TABLE = "alembic_flask_env_expand"


def version_schema_name(revision: str) -> str:
    """The schema of views for ``revision``: ``afe_v_`` + the revision id
    lowercased, anything outside ``[a-z0-9_]`` turned into ``_``, cut to
    PostgreSQL's 63-character identifier limit (so it never needs quoting
    and never gets truncated silently by the server).
    """
    return ("afe_v_" + re.sub(r"[^a-z0-9_]", "_", revision.lower()))[:63]
