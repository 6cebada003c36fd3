"""What a release knows of its own migrations: the head(s) of the folder it
ships, and whether the database has reached them.

Read with Alembic's ``ScriptDirectory`` alone, without ``env.py``: the app
is starting, so loading it again (as ``env.py`` would) is out of the
question, and the revision files are all it needs.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util import CommandError

from ..errors import InvalidSetting
from ..errors import ReleaseNotMigrated
from .naming import version_schema_name


@dataclass(frozen=True)
class Release:
    """The migrations folder of the running code."""

    directory: Path
    #: The folder's head revisions (one, unless it has branches).
    heads: tuple[str, ...]
    #: Every revision in the folder.
    known: frozenset[str]

    def version_schemas(self) -> dict[str, str]:
        """Each head and the schema of views its expand would make."""
        return {head: version_schema_name(head) for head in self.heads}

    def unreached_heads(self, database_revisions: Collection[str]) -> list[str]:
        """The heads the database has not reached.

        A head is reached when the database stands at it, or at a revision
        this folder does not know: a newer release's (the old release keeps
        serving while the new one's revisions run). A head has no
        descendants in its own folder, so a known revision other than the
        head itself is always behind it.
        """
        unknown = any(rev not in self.known for rev in database_revisions)
        if unknown:
            return []
        return [head for head in self.heads if head not in database_revisions]

    def refuse_unreached(self, database_revisions: Collection[str]) -> None:
        """:raises ReleaseNotMigrated: a head is not reached."""
        unreached = self.unreached_heads(database_revisions)
        if not unreached:
            return
        at = (
            ", ".join(repr(rev) for rev in sorted(database_revisions))
            if database_revisions
            else "no revision (alembic_version is missing or empty)"
        )
        raise ReleaseNotMigrated(
            f"This release's migrations folder ({self.directory}) ends at"
            f" revision {', '.join(map(repr, unreached))}, but the database is"
            f" at {at}: its tables are not yet what this code expects. Run"
            " 'alembic upgrade head' (with this release's migrations) before"
            " starting this release."
        )


def read_release(directory: str | Path) -> Release:
    """The heads and revisions of the migrations folder ``directory``
    (relative to the working directory, as Flask-Migrate's is).

    :raises InvalidSetting: no such folder, or Alembic cannot read it.
    """
    path = Path(directory).absolute()
    if not (path / "versions").is_dir():
        raise InvalidSetting(
            f"VersionedSchema(directory={str(directory)!r}) names {path}, which"
            " is not a migrations folder (it has no versions/ directory). Pass"
            " the folder this release's revisions are in, as an absolute path"
            " or relative to the working directory the app starts in."
        )
    try:
        script = ScriptDirectory(str(path))
        heads = tuple(sorted(script.get_heads()))
        known = frozenset(s.revision for s in script.walk_revisions())
    except (CommandError, RevisionError) as error:
        raise InvalidSetting(
            f"VersionedSchema(directory={str(directory)!r}): Alembic cannot read"
            f" the revisions of {path}: {error}. Fix the revision files, or"
            " pass the folder this release's revisions are in."
        ) from error
    return Release(directory=path, heads=heads, known=known)
