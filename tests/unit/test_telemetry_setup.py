"""When a run makes telemetry: only once something in the process may have
set an OpenTelemetry SDK, since importing the API costs every run more
than the environment's own work, for spans nobody records. (Checked in a
fresh interpreter each: this one may have imported the API already.)
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(
    # (find_spec of a submodule raises when its package is not installed.)
    importlib.util.find_spec("opentelemetry") is None,
    reason="opentelemetry-api is not installed here",
)

MADE = (
    "import sys\n"
    "{before}\n"
    "from alembic_flask_env.ledger.telemetry import run_telemetry\n"
    "print(run_telemetry('sqlite', '') is not None)\n"
)


def made(before: str = "", **variables: str) -> bool:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("OTEL_PYTHON_")
    }
    result = subprocess.run(
        [sys.executable, "-c", MADE.format(before=before)],
        env={**env, **variables},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip() == "True"


def test_none_when_nothing_imported_the_api() -> None:
    assert not made()


def test_made_when_the_api_is_imported() -> None:
    assert made("import opentelemetry.trace")
    assert made("import opentelemetry.metrics")


def test_made_when_a_provider_is_named_in_the_environment() -> None:
    assert made(OTEL_PYTHON_TRACER_PROVIDER="sdk_tracer_provider")
