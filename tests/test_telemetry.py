"""OpenTelemetry spans and metrics of a run, under opentelemetry-instrument
with the SDK's console exporters, as a user would run it.
"""

from __future__ import annotations

import importlib.util
import shutil

import pytest

from harness import BIN_DIR
from harness import Project
from harness import write_revision

INSTRUMENT = shutil.which("opentelemetry-instrument", path=str(BIN_DIR))

pytestmark = pytest.mark.skipif(
    INSTRUMENT is None or importlib.util.find_spec("opentelemetry.sdk") is None,
    reason="opentelemetry-distro and -sdk are not installed here",
)


def test_a_span_per_run_and_revision_and_the_metrics(blog: Project) -> None:
    write_revision(blog, "r1", None, "op.execute('CREATE TABLE a (id int)')")
    write_revision(blog, "r2", "r1", "op.execute('CREATE TABLE b (id int)')")
    assert INSTRUMENT is not None
    blog.env.update(
        {
            "OTEL_SERVICE_NAME": "deploy",
            "OTEL_TRACES_EXPORTER": "console",
            "OTEL_METRICS_EXPORTER": "console",
            "OTEL_LOGS_EXPORTER": "none",
        }
    )
    result = blog.run(INSTRUMENT, str(BIN_DIR / "alembic"), "upgrade", "head")
    out = result.stdout
    for name in (
        '"name": "alembic upgrade"',
        '"name": "upgrade r1"',
        '"name": "upgrade r2"',
    ):
        assert name in out, out[-2000:]
    assert '"db.system": "sqlite"' in out
    assert '"alembic.to_revision": "r2"' in out
    assert "alembic_flask_env.revisions.applied" in out
    assert "alembic_flask_env.revision.duration" in out


def test_without_an_exporter_nothing_is_printed(blog: Project) -> None:
    write_revision(blog, "r1", None, "op.execute('CREATE TABLE a (id int)')")
    result = blog.alembic("upgrade", "head")
    assert result.stdout == ""
