"""pytest-alembic's built-in tests pass on the example project and migrate
only the engine its fixture provides.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from harness import Project

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "blog"
BUILT_IN_TESTS = [
    "test_model_definitions_match_ddl",
    "test_single_head_revision",
    "test_up_down_consistency",
    "test_upgrade",
]

pytestmark = pytest.mark.slow


def test_pytest_alembic_built_in_tests_pass(tmp_path: Path) -> None:
    root = tmp_path / "blog"
    shutil.copytree(EXAMPLE, root)
    project = Project(root)
    project.init()
    project.set_ini_option("flask_app", "blogapp:create_app")
    project.alembic("revision", "--autogenerate", "-m", "create tables")
    app_database = project.database("blog-development.db")
    app_database.unlink()

    result = project.python(
        "-m", "pytest", "--test-alembic", "-v", "-p", "no:cacheprovider"
    )
    for name in BUILT_IN_TESTS:
        assert f"{name} PASSED" in result.stdout
    assert "4 passed" in result.stdout
    assert not app_database.exists(), "the app's own database was migrated"


EXPERIMENTAL_TESTS = "downgrade_leaves_no_trace,all_models_register_on_metadata"


def test_pytest_alembic_experimental_tests(tmp_path: Path) -> None:
    """downgrade_leaves_no_trace hands the environment a wrapper that
    behaves like an Engine (its connect() yields the test's connection);
    it passes. all_models_register_on_metadata looks for a MetaData among
    env.py's own variables, and our env.py has none by design (the app
    supplies it): it cannot pass, for the reason the README gives.
    """
    root = tmp_path / "blog"
    shutil.copytree(EXAMPLE, root)
    project = Project(root)
    project.init()
    project.set_ini_option("flask_app", "blogapp:create_app")
    project.alembic("revision", "--autogenerate", "-m", "create tables")
    project.database("blog-development.db").unlink()

    result = project.run(
        sys.executable,
        "-m",
        "pytest",
        "--test-alembic",
        "-v",
        "-p",
        "no:cacheprovider",
        "-o",
        f"pytest_alembic_include_experimental={EXPERIMENTAL_TESTS}",
        ok=False,
    )
    assert "test_downgrade_leaves_no_trace PASSED" in result.stdout
    assert "test_all_models_register_on_metadata FAILED" in result.stdout
    assert (
        "Unable to locate a MetaData reference in the local context of your"
        " `env.py`." in result.stdout
    )
    assert "1 failed, 5 passed" in result.stdout
