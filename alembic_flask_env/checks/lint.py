"""``python -m alembic_flask_env lint``: the checks in CI, without running
anything.

Offline there are no facts, so every rule fires as if each table existed
and were large (and the server were the newest); with the app's database
given, its facts apply, read-only. A flask-multidb revision is checked once
per bind it has functions for.
"""

from __future__ import annotations

import inspect
import re
from typing import TYPE_CHECKING

from .facts import Facts
from .findings import Finding
from .findings import as_json
from .run import check_revisions

if TYPE_CHECKING:
    from alembic.script import Script
    from alembic.script import ScriptDirectory

FORMATS = ("text", "json", "github")
#: The exit code when a revision in the range could not be loaded (its
#: findings unknown); 1 is findings, 2 bad usage.
EXIT_UNLOADABLE = 3
_BIND_FUNCTION = re.compile(r"^upgrade_(\w*)$")


def revisions_in(script: ScriptDirectory, revision_range: str | None) -> list[Script]:
    """The revisions of ``BASE:HEAD`` (BASE itself excluded, as
    ``alembic history -r`` reads it), oldest first; all without a range.
    """
    base, head = "base", "heads"
    if revision_range:
        base, _, head = revision_range.partition(":")
        base, head = base or "base", head or "heads"
    return list(reversed(list(script.iterate_revisions(head, base))))


def lint(revisions: list[Script], facts: Facts) -> list[Finding]:
    findings: list[Finding] = []
    for revision in revisions:
        upgrade = getattr(getattr(revision, "module", None), "upgrade", None)
        if upgrade is None:
            continue
        if "engine_name" in inspect.signature(upgrade).parameters:
            module = vars(revision.module)
            binds = sorted(
                match.group(1)
                for name in module
                if (match := _BIND_FUNCTION.match(name)) and callable(module[name])
            )
            for bind in binds:
                findings += check_revisions(
                    [(revision, "upgrade")], facts, engine_name=bind
                )
        else:
            findings += check_revisions([(revision, "upgrade")], facts)
    return findings


def render(findings: list[Finding], output_format: str) -> str:
    if output_format == "json":
        return as_json(findings)
    if output_format == "github":
        return "\n".join(finding.github() for finding in findings)
    if not findings:
        return "No findings."
    return "\n\n".join(finding.paragraph() for finding in findings)
