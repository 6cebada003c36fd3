"""pytest-alembic's built-in tests pass on the example project and migrate
only the engine its fixture provides.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from harness import Project

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "blog"
BUILT_IN_TESTS = [
    "test_model_definitions_match_ddl",
    "test_single_head_revision",
    "test_up_down_consistency",
    "test_upgrade",
]


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
