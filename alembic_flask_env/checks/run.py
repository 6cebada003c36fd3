"""Checking a list of revisions: record each, turn its operations into
changes, and hold every change to every rule.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING
from typing import Any

from ..errors import UnsafeMigration
from ..url_masking import mask_urls
from .findings import Finding
from .from_operations import changes_of
from .recording import record
from .rules import RULES
from .rules import RUNNING_CODE_RULES
from .skips import skipped_rules
from .stand_in import live_key

if TYPE_CHECKING:
    from collections.abc import Callable

    from alembic.script import Script

    from .changes import Change
    from .facts import Facts
    from .recording import Recording
    from .settings import ChecksSettings

log = logging.getLogger(__name__)


def check_revisions(
    revisions: list[tuple[Script, str]], facts: Facts, **arguments: Any
) -> list[Finding]:
    """The findings for ``revisions`` (each with "upgrade" or "downgrade"),
    in order. A table created by an earlier one is exempt from the rules
    about locks: nobody uses it yet.

    :param arguments: what the environment passes each revision function
        (``engine_name`` for flask-multidb).
    """
    findings: list[Finding] = []
    for revision, direction in revisions:
        function = getattr(getattr(revision, "module", None), direction, None)
        if function is None:
            continue
        skips = skipped_rules(revision)
        recording, changes = _recorded(revision, function, facts.dialect, arguments)
        if recording.stopped:
            where = revision.path
            if recording.stopped_line:
                where = f"{where}, line {recording.stopped_line}"
            log.warning(
                "Revision %s (%s) could not be checked to its end: while its"
                " operations were recorded, its %s() raised %s. What it did"
                " before that was checked; the rest runs unchecked.",
                revision.revision,
                where,
                direction,
                mask_urls(recording.stopped),
            )
        facts.earlier = []
        for change in changes:
            if change.kind == "create_table" and change.table:
                facts.new_tables.add(change.table.lower())
            else:
                findings += _findings(change, facts, revision, direction, skips)
            facts.earlier.append(change)
    return findings


#: What each revision function does, by function, dialect and arguments:
#: it is the same for every database the function runs on, and a run of
#: many tenants checks each revision once per tenant.
_RECORDED: dict[tuple[Any, ...], tuple[Recording, list[Change]]] = {}


def _recorded(
    revision: Script,
    function: Callable[..., Any],
    dialect: str,
    arguments: dict[str, Any],
) -> tuple[Recording, list[Change]]:
    key = (function, dialect, tuple(sorted(arguments.items())), live_key())
    if key not in _RECORDED:
        recording = record(revision, function, dialect, **arguments)
        _RECORDED[key] = (recording, list(changes_of(recording, dialect)))
    return _RECORDED[key]


def _findings(
    change: Change,
    facts: Facts,
    revision: Script,
    direction: str,
    skips: dict[str, str],
) -> list[Finding]:
    """What every rule says of one change."""
    findings = []
    for rule in RULES:
        if change.kind not in rule.kinds or facts.dialect not in rule.dialects:
            continue
        if direction == "downgrade" and rule.id in RUNNING_CODE_RULES:
            continue
        if rule.exempt_new_tables and not facts.exists(change.table):
            continue
        verdict = rule.check(change, facts)
        if verdict is None:
            continue
        if rule.id in skips:
            log.info(
                "Revision %s, line %d: %s skipped (%s).",
                revision.revision,
                change.line,
                rule.id,
                skips[rule.id],
            )
            continue
        message, fix = verdict
        findings.append(
            Finding(
                rule.id,
                revision.revision,
                revision.path,
                change.line,
                change.table,
                facts.table_rows(change.table),
                message[0].upper() + message[1:],
                fix,
            )
        )
    return findings


def enforce(findings: list[Finding], settings: ChecksSettings) -> None:
    """Log or refuse, as ``migration_checks`` says; findings on tables
    smaller than ``migration_checks_min_rows`` are logged either way.

    :raises UnsafeMigration: with ``error``, any finding that counts.
    """
    counting = []
    for finding in findings:
        small = finding.rows is not None and finding.rows < settings.min_rows
        if small or settings.mode == "warn":
            log.warning("%s", finding.paragraph())
        else:
            counting.append(finding)
    if counting:
        plural = "s" if len(counting) > 1 else ""
        raise UnsafeMigration(
            f"{len(counting)} statement{plural} would block or break the running"
            " app, so nothing was run:\n\n"
            + "\n\n".join(finding.paragraph() for finding in counting)
            + "\n\nWrite each the safe way, or skip a rule in its revision with"
            ' migration_checks_skip = {"rule-id": "why it is safe here"}; set'
            " migration_checks = warn to log findings and run anyway."
        )
