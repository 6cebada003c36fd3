"""An app with Migrate(app, db, ...) keeps its behaviour under plain alembic."""

from __future__ import annotations

import pytest

from harness import Project
from harness import ProjectFactory


@pytest.fixture
def shop(project_factory: ProjectFactory) -> Project:
    return project_factory("migrated", template="flask", flask_app="shop:create_app")


def test_configure_args_and_callbacks_are_honoured(shop: Project) -> None:
    output = shop.output(shop.alembic("revision", "--autogenerate", "-m", "init"))
    assert "Detected added table 'item'" in output
    assert "'scratch'" not in output, "Migrate(include_object=...) was ignored"
    marker = shop.root / "callback-ran"
    # The callback was handed alembic's own Config (named as on the CLI).
    assert marker.read_text() == "alembic.ini", (
        "the @migrate.configure callback did not run on alembic's config"
    )
    shop.alembic("upgrade", "head")
    assert shop.tables("shop.db") == {"item", "alembic_version"}

    models = shop.root / "shop" / "models.py"
    models.write_text(models.read_text().replace("String(50)", "String(90)"))
    shop.alembic("revision", "--autogenerate", "-m", "widen")
    [widen] = [p for p in shop.revision_files() if "widen" in p.name]
    source = widen.read_text()
    # Migrate(render_as_batch=False) wins over our SQLite default of True.
    assert "op.alter_column('item', 'name'" in source
    assert "batch_alter_table" not in source
