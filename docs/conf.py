"""Sphinx configuration: the Pallets shape (Flask-SQLAlchemy's docs), with
MyST for the pages moved from the README and a small local extension that
renders the settings and the rules from the package itself.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pallets_sphinx_themes import ProjectLink
from pallets_sphinx_themes import get_version

# The local extension (docs/_ext) renders tables from the package's code.
sys.path.insert(0, str(Path(__file__).parent / "_ext"))

project = "alembic-flask-env"
copyright = "the alembic-flask-env authors"
author = "the alembic-flask-env authors"
release, version = get_version("alembic-flask-env")

extensions = [
    "sphinx.ext.autodoc",
    "myst_parser",
    "pallets_sphinx_themes",
    "afe_docs",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build"]
# No intersphinx: the build needs no network.
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_preserve_defaults = True
myst_heading_anchors = 3
myst_enable_extensions = ["deflist"]
# Backticks in the README's tables are literal text, as in reST ``...``.
default_role = "code"

html_theme = "flask"
html_theme_options = {"index_sidebar_logo": False}
html_context = {
    "project_links": [
        ProjectLink(
            "PyPI (not yet published)", "https://pypi.org/project/alembic-flask-env/"
        ),
        ProjectLink("Changes", "changes/"),
    ]
}
html_sidebars = {
    "index": ["project.html", "localtoc.html", "searchbox.html"],
    "**": ["localtoc.html", "relations.html", "searchbox.html"],
}
singlehtml_sidebars = {"index": ["project.html", "localtoc.html"]}
html_title = f"alembic-flask-env Documentation ({version})"
html_show_sourcelink = False
