"""A finding, and the three ways it is printed (text, JSON, GitHub)."""

from __future__ import annotations

import json
from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    rule: str
    revision: str
    path: str
    line: int
    table: str | None
    #: Estimated rows, when the database was asked.
    rows: int | None
    #: What the statement does to the running app.
    message: str
    #: The safe way to write it, as code to paste.
    fix: str
    #: Said instead of the rows when the database does not know them.
    unknown_size: str = ""

    def paragraph(self) -> str:
        """One paragraph: rule, where, what it does, the fix."""
        where = f"{self.path}, line {self.line}" if self.line else self.path
        table = ""
        if self.table:
            size = f", about {self.rows:,} rows" if self.rows is not None else ""
            if self.rows is None and self.unknown_size:
                size = f", {self.unknown_size}"
            table = f" on table {self.table!r}{size}"
        return (
            f"[{self.rule}] Revision {self.revision} ({where}){table}: {self.message}"
            f" Instead: {self.fix}"
        )

    def as_json(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "revision": self.revision,
            "path": self.path,
            "line": self.line,
            "table": self.table,
            "message": self.message,
            "fix": self.fix,
        }

    def github(self) -> str:
        """A GitHub Actions annotation of the revision's line."""
        text = f"{self.message} Instead: {self.fix}".replace("\n", "%0A")
        return f"::error file={self.path},line={self.line},title={self.rule}::{text}"


def as_json(findings: list[Finding]) -> str:
    return json.dumps([finding.as_json() for finding in findings], indent=2)
