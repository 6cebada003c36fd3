"""OpenTelemetry: a span per run and per revision, and counters and a
histogram of revisions, when ``opentelemetry-api`` is installed
(``pip install 'alembic-flask-env[otel]'``).

Only the API is used, so nothing is exported unless the user configured an
SDK and an exporter (``opentelemetry-instrument alembic upgrade head`` with
the ``OTEL_*`` variables, as for any instrumented command); without the
package, or when nothing in the process imported the API (so no SDK is
set), nothing is imported and nothing is done. Attribute names follow
OpenTelemetry's database conventions where they apply (``db.system``).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.util import find_spec
from typing import TYPE_CHECKING
from typing import Any

if TYPE_CHECKING:
    from alembic.runtime.migration import MigrationContext
    from alembic.runtime.migration import MigrationInfo

from .steps import direction_of
from .steps import revisions_of

INSTRUMENTATION = "alembic_flask_env"


class RunTelemetry:
    """The spans and metrics of one run on one database."""

    def __init__(self, database_system: str, where: str) -> None:
        from opentelemetry import metrics
        from opentelemetry import trace

        self._trace = trace
        self.tracer = trace.get_tracer(INSTRUMENTATION)
        meter = metrics.get_meter(INSTRUMENTATION)
        self.applied = meter.create_counter(
            "alembic_flask_env.revisions.applied",
            unit="{revision}",
            description="Revision steps applied",
        )
        self.failed = meter.create_counter(
            "alembic_flask_env.revisions.failed",
            unit="{revision}",
            description="Revision steps that failed",
        )
        self.duration = meter.create_histogram(
            "alembic_flask_env.revision.duration",
            unit="s",
            description="How long each revision step took",
        )
        #: Set once Alembic is configured (upgrade, downgrade, stamp).
        self.command = ""
        self.attributes = {"db.system": database_system}
        if where:
            self.attributes["alembic.bind"] = where
        self.run_span: Any = None
        self._last = time.time_ns()

    @contextmanager
    def run(self, destination: str | None) -> Iterator[None]:
        """The run's span, around everything the run does."""
        attributes = {**self.attributes, "alembic.to_revision": destination or ""}
        with self.tracer.start_as_current_span(
            f"alembic {self.command}", attributes=attributes
        ) as span:
            self.run_span = span
            self._last = time.time_ns()
            yield

    def lock_waited(self, seconds: float) -> None:
        if self.run_span is not None:
            self.run_span.set_attribute("alembic.lock_wait_s", seconds)

    def on_version_apply(
        self,
        *,
        ctx: MigrationContext,
        step: MigrationInfo,
        heads: set[str],
        run_args: dict[str, Any],
    ) -> None:
        revision, source = revisions_of(step)
        self._step(
            direction_of(step), revision or "<base>", source or "<base>", error=None
        )

    def failed_step(self, revision: str | None, error: BaseException) -> None:
        self._step(self.command, revision or "", "", error=error)

    def _step(
        self, direction: str, revision: str, source: str, error: BaseException | None
    ) -> None:
        now = time.time_ns()
        started, self._last = self._last, now
        attributes = {
            **self.attributes,
            "alembic.revision": revision,
            "alembic.from_revision": source,
            "alembic.direction": direction,
            "alembic.outcome": "failed" if error else "applied",
        }
        context = (
            self._trace.set_span_in_context(self.run_span)
            if self.run_span is not None
            else None
        )
        span = self.tracer.start_span(
            f"{direction} {revision}".strip(),
            context=context,
            attributes=attributes,
            start_time=started,
        )
        if error is not None:
            span.record_exception(error)
            span.set_status(self._trace.Status(self._trace.StatusCode.ERROR))
        span.end(end_time=now)
        metric_attributes = {**self.attributes, "alembic.direction": direction}
        (self.failed if error else self.applied).add(1, metric_attributes)
        self.duration.record((now - started) / 1e9, metric_attributes)


def run_telemetry(database_system: str, where: str) -> RunTelemetry | None:
    """The run's telemetry, or None when OpenTelemetry is not installed
    (checked without importing it) or nothing in the process set it up.
    """
    if not (_set_up() and _installed()):
        return None
    return RunTelemetry(database_system, where)


def _set_up() -> bool:
    """Whether anything may have set an SDK: the API imported already (by
    ``opentelemetry-instrument``, the app or another package), or a
    provider named in the environment for the API to load. Otherwise no
    SDK is set, the API would drop every span and metric, and importing it
    cost each run more than the environment's own work.
    """
    return any(name in sys.modules for name in _API_MODULES) or any(
        name in os.environ for name in _PROVIDER_VARIABLES
    )


#: The API's modules that setting an SDK imports.
_API_MODULES = ("opentelemetry.trace", "opentelemetry.metrics")
#: The variables from which the API loads a provider itself.
_PROVIDER_VARIABLES = ("OTEL_PYTHON_TRACER_PROVIDER", "OTEL_PYTHON_METER_PROVIDER")


def flush_telemetry() -> None:
    """Export what this process recorded and has not exported yet. A
    tenants' worker calls it before it ends: a forked process ends without
    running the exit hooks that would flush the SDK's batches. Nothing to
    do without OpenTelemetry, or without an SDK (the API's own providers
    have no ``force_flush``), nor when nothing set it up (the run made
    none).
    """
    if not (_set_up() and _installed()):
        return
    from opentelemetry import metrics
    from opentelemetry import trace

    for provider in (trace.get_tracer_provider(), metrics.get_meter_provider()):
        force_flush = getattr(provider, "force_flush", None)
        if callable(force_flush):
            force_flush()


def _installed() -> bool:
    """Whether the API is there, checked without importing it."""
    try:
        # (The API's own module: an "opentelemetry" namespace that other
        # packages left behind is not the API.)
        return find_spec("opentelemetry.trace") is not None
    except ModuleNotFoundError:  # no "opentelemetry" at all
        return False
