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


def test_the_tenants_workers_export_their_spans(blog: Project) -> None:
    """A forked worker ends without the exit hooks that flush the SDK: it
    flushes itself, so every tenant's run has its span.
    """
    blog.set_ini_option("flask_tenants", "tenancy:databases")
    (blog.root / "instance").mkdir(exist_ok=True)
    blog.env["BLOG_TENANTS"] = "acme,beta,gamma,delta"
    blog.env["BLOG_TENANT_DIR"] = str(blog.root / "instance")
    write_revision(blog, "r1", None, "op.execute('CREATE TABLE a (id int)')")
    assert INSTRUMENT is not None
    blog.env.update(
        {
            "OTEL_SERVICE_NAME": "deploy",
            "OTEL_TRACES_EXPORTER": "console",
            "OTEL_METRICS_EXPORTER": "none",
            "OTEL_LOGS_EXPORTER": "none",
        }
    )
    result = blog.run(
        INSTRUMENT, str(BIN_DIR / "alembic"), "-x", "tenant_jobs=2", "upgrade", "head"
    )
    assert "(2 jobs)." in result.stderr
    assert result.stdout.count('"name": "alembic upgrade"') == 4
    assert result.stdout.count('"name": "upgrade r1"') == 4
