"""The README's quick start, run on the installed package."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import Project

QUICKSTART = Path(__file__).resolve().parent.parent / "examples" / "quickstart.py"

pytestmark = pytest.mark.slow


def test_quickstart_sets_up_and_migrates_the_example(tmp_path: Path) -> None:
    project = Project(tmp_path)
    result = project.python(
        str(QUICKSTART), "--use-current-environment", "--workdir", str(tmp_path)
    )
    assert "$ alembic revision --autogenerate -m 'create tables'" in result.stdout
    tables = result.stdout.split("Tables in ")[1].splitlines()[1:]
    assert [t.strip() for t in tables] == [
        "alembic_ledger",
        "alembic_version",
        "author",
        "post",
    ]
