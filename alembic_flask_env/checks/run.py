"""Checking a list of revisions: record each, turn its operations into
changes, and hold every change to every rule.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from dataclasses import replace
from typing import TYPE_CHECKING
from typing import Any

from ..errors import UnsafeMigration
from .facts import table_key
from .findings import Finding
from .from_operations import changes_of
from .recording import record
from .rules import RULES
from .rules import RUNNING_CODE_RULES
from .skips import is_expand_contract
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
    in order: :func:`record_revisions`, then :func:`judge`.

    :param arguments: what the environment passes each revision function
        (``engine_name`` for flask-multidb).
    """
    return judge(record_revisions(revisions, facts.dialect, **arguments), facts)


@dataclass(frozen=True)
class Step:
    """One change of a run, with the revision that makes it."""

    revision: Script
    direction: str
    skips: dict[str, str]
    change: Change
    #: Which revision function of the run (the changes of one share it).
    function: int


def record_revisions(
    revisions: list[tuple[Script, str]], dialect: str, **arguments: Any
) -> list[Step]:
    """Every change ``revisions`` make, in the order they run; nothing
    reaches a database.
    """
    steps: list[Step] = []
    for number, (revision, direction) in enumerate(revisions):
        function = getattr(getattr(revision, "module", None), direction, None)
        if function is None:
            continue
        skips = skipped_rules(revision)
        recording, changes = _recorded(revision, function, dialect, arguments)
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
                recording.stopped,
            )
        steps += [
            Step(revision, direction, skips, change, number) for change in changes
        ]
    return steps


def judge(steps: list[Step], facts: Facts) -> list[Finding]:
    """Hold every change of the run to every rule. A table created by an
    earlier change, or dropped by a later one, is exempt from the rules
    about locks: nobody uses it yet, or any more (dropping it takes the
    strongest lock anyway).
    """
    steps = _with_index_tables(steps, facts)
    findings: list[Finding] = []
    function = -1
    for step, dropped_later in zip(steps, _dropped_later(steps), strict=True):
        change = step.change
        if step.function != function:
            facts.earlier = []
            function = step.function
        if change.kind == "create_table" and change.table:
            facts.new_tables.add(table_key(change.table, change.schema))
        else:
            findings += _findings(step, facts, dropped_later)
        facts.earlier.append(change)
    return findings


def _with_index_tables(steps: list[Step], facts: Facts) -> list[Step]:
    """The steps, each ``drop_index`` that names no table given the table
    of its index: one the run created before it, or the database's.
    """
    resolved = []
    for step in steps:
        change = step.change
        key = table_key(change.name, change.schema) if change.name else None
        if key is not None and change.kind == "create_index" and change.table:
            facts.index_tables[key] = change.table
        elif key is not None and change.kind == "drop_index" and not change.table:
            table = facts.index_tables.get(key)
            if table is not None:
                step = replace(step, change=replace(change, table=table))
        resolved.append(step)
    return resolved


def _dropped_later(steps: list[Step]) -> list[bool]:
    """For each step, whether a later step of the run drops its table
    (looking ahead: a table re-created or renamed in between is not).
    """
    doomed: set[str] = set()
    flags: list[bool] = []
    for step in reversed(steps):
        change = step.change
        if change.table is None:
            flags.append(False)
            continue
        key = table_key(change.table, change.schema)
        flags.append(key in doomed and change.kind != "drop_table")
        if change.kind == "drop_table":
            doomed.add(key)
        elif change.kind == "create_table":
            doomed.discard(key)
        elif change.kind == "rename_table":
            renamed = table_key(change.name, change.schema) in doomed
            doomed.discard(key)
            if renamed:
                doomed.add(key)
    flags.reverse()
    return flags


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


def _findings(step: Step, facts: Facts, dropped_later: bool) -> list[Finding]:
    """What every rule says of one change."""
    change, revision, skips = step.change, step.revision, step.skips
    if step.direction == "upgrade" and is_expand_contract(revision):
        # Its ops are not run as written: expand/contract phases them
        # (and refuses, before the run, any it cannot).
        return []
    findings = []
    for rule in RULES:
        if change.kind not in rule.kinds or facts.dialect not in rule.dialects:
            continue
        if step.direction == "downgrade" and rule.id in RUNNING_CODE_RULES:
            continue
        if rule.exempt_new_tables and (
            dropped_later or not facts.exists(change.table, change.schema)
        ):
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
        table = change.table
        if table is not None and change.schema:
            table = f"{change.schema}.{table}"
        findings.append(
            Finding(
                rule.id,
                revision.revision,
                revision.path,
                change.line,
                table,
                facts.table_rows(change.table, change.schema),
                message[0].upper() + message[1:],
                fix,
                facts.unknown_size(change.table, change.schema),
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
