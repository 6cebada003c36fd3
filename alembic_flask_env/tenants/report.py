"""What a many-tenant run says: a line per tenant as it finishes, a summary,
and (``tenant_report``) a JSON file for a deploy pipeline to read.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import InvalidSetting
from ..settings import TENANT_REPORT_KEY

if TYPE_CHECKING:
    from pathlib import Path

log = logging.getLogger(__name__)

MIGRATED = "migrated"
UNCHANGED = "unchanged"
FAILED = "failed"
SKIPPED = "skipped"


@dataclass(frozen=True)
class TenantOutcome:
    """One tenant's result; ``from`` and ``to`` are its revisions before and
    after (comma-separated heads, "" at base), ``error`` the first line of
    the failure, secrets masked.
    """

    tenant: str
    status: str
    from_: str = ""
    to: str = ""
    seconds: float = 0.0
    error: str | None = None

    def as_json(self) -> dict[str, object]:
        values = asdict(self)
        values["from"] = values.pop("from_")
        values["seconds"] = round(self.seconds, 3)
        return values


class Progress:
    """Logs each finished tenant as ``[37/500] acme: 1a2b -> 3c4d in 0.4 s``."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0

    def finished(self, outcome: TenantOutcome) -> None:
        self.done += 1
        where = f"[{self.done}/{self.total}] {outcome.tenant}"
        if outcome.status == FAILED:
            log.error(
                "%s: failed after %.1f s: %s", where, outcome.seconds, outcome.error
            )
        elif outcome.status == UNCHANGED:
            log.info(
                "%s: at %s, nothing to do (%.1f s)",
                where,
                _shown(outcome.to),
                outcome.seconds,
            )
        else:
            log.info(
                "%s: %s -> %s in %.1f s",
                where,
                _shown(outcome.from_),
                _shown(outcome.to),
                outcome.seconds,
            )


def summarise(outcomes: list[TenantOutcome], seconds: float, jobs: int) -> str:
    """One line: how many tenants ended how, and how long the run took."""
    counts = {
        status: sum(1 for outcome in outcomes if outcome.status == status)
        for status in (MIGRATED, UNCHANGED, FAILED, SKIPPED)
    }
    return (
        f"Tenants: {counts[MIGRATED]} migrated, {counts[UNCHANGED]} already"
        f" there, {counts[FAILED]} failed, {counts[SKIPPED]} skipped, in"
        f" {seconds:.1f} s ({jobs} job{'s' if jobs != 1 else ''})."
    )


def write_report(path: Path, outcomes: list[TenantOutcome]) -> None:
    """Write one JSON object per tenant (a list), all at once, so that a
    reader never sees half a file.

    :raises InvalidSetting: the file cannot be written.
    """
    text = json.dumps([outcome.as_json() for outcome in outcomes], indent=2)
    partial = path.with_name(path.name + ".partial")
    try:
        partial.write_text(text + "\n", encoding="utf-8")
        partial.replace(path)
    except OSError as error:
        raise InvalidSetting(
            f"{TENANT_REPORT_KEY} = {str(path)!r}: the report could not be"
            f" written ({error.strerror or error}). Point {TENANT_REPORT_KEY} at a"
            " file in a directory that exists and is writable; the tenants"
            " themselves were migrated as the log above says."
        ) from None
    log.info("Wrote the tenants' report to %s.", path)


def _shown(revisions: str) -> str:
    return revisions or "<base>"
