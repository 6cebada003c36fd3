"""Our templates beside Alembic's, without shadowing them."""

from __future__ import annotations

from pathlib import Path

from alembic_flask_env.plugin.template_lookup import TEMPLATES_DIR
from alembic_flask_env.plugin.template_lookup import MergedTemplateRoot


def test_names_resolve_to_ours_only_where_alembic_has_none(tmp_path: Path) -> None:
    alembic_templates = tmp_path / "templates"
    (alembic_templates / "generic").mkdir(parents=True)
    (alembic_templates / "generic" / "README").write_text("Alembic's own.\n")
    (alembic_templates / "flask").mkdir()  # a clash: Alembic's wins
    (alembic_templates / "flask" / "README").write_text("Theirs.\n")
    root = MergedTemplateRoot(alembic_templates)

    assert root / "generic" == alembic_templates / "generic"
    assert root / "flask" == alembic_templates / "flask"
    assert root / "flask-multidb" == TEMPLATES_DIR / "flask-multidb"
    assert root / "nothing" == alembic_templates / "nothing"
    assert root / "/abs/path" == Path("/abs/path")

    names = [path.name for path in root.iterdir()]
    assert names == ["flask", "generic", "flask-multidb", "flask-pyproject"] or sorted(
        names[:2]
    ) == ["flask", "generic"]
    assert names.count("flask") == 1
    assert {"flask-multidb", "flask-pyproject"} <= set(names)


def test_every_template_has_the_files_init_copies() -> None:
    for template in ("flask", "flask-multidb", "flask-pyproject"):
        files = {path.name for path in (TEMPLATES_DIR / template).iterdir()}
        assert {"README", "alembic.ini.mako", "env.py", "script.py.mako"} <= files
        first_line = (TEMPLATES_DIR / template / "README").read_text().splitlines()[0]
        assert first_line.endswith("(alembic_flask_env).")
