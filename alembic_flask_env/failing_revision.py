"""Which revision an error came from, so that messages can name it.

Alembic logs ``Running upgrade a -> b`` before each revision but does not
say which one an error arose in. The traceback does: the innermost frame in
one of the script directory's revision files.
"""

from __future__ import annotations

import os
import traceback
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alembic.script import Script
    from alembic.script import ScriptDirectory


def failing_revision(
    script: ScriptDirectory, error: BaseException
) -> tuple[Script, int] | None:
    """The revision whose file the error was raised from, and the line in
    it; None when it came from elsewhere.
    """
    revisions = {
        os.path.realpath(revision.path): revision
        for revision in script.walk_revisions()
    }
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        revision = revisions.get(os.path.realpath(frame.filename))
        if revision is not None:
            return revision, frame.lineno or 0
    return None


def describe(found: tuple[Script, int] | None) -> str:
    """``revision abc (path, line N)``, or ``a revision`` when unknown."""
    if found is None:
        return "a revision"
    revision, line = found
    return f"revision {revision.revision} ({revision.path}, line {line})"
