"""Measure the package in the tests' subprocesses from its first import on.

coverage.py's ``patch = subprocess`` starts measuring every Python the
tests start at interpreter start-up (its ``.pth`` file), so an ``alembic``
process traces its whole import of SQLAlchemy, Alembic and Flask: most of
the process, none of it ours, and tracing about doubles its CPU time. This
module, installed into the ``coverage`` tox environment by
``python tests/coverage_late_start.py`` (a ``.pth`` file read before
coverage.py's own), holds coverage.py's request back and starts it when
``alembic_flask_env`` is first imported: every line of the package is
still measured (nothing of it has run before its import), the libraries'
imports before it are not traced, and a process that never imports the
package (``pip``, a test's ``python -c``) is not measured at all.

The request goes back into the environment as soon as coverage.py's own
``.pth`` file has been read (a second ``.pth`` file, read after it), so
the processes this one starts (an xdist worker's ``alembic`` runs, say)
inherit it whether or not this one ever imports the package.
"""

from __future__ import annotations

import os
import sys
import sysconfig
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType

#: What coverage.py's patch puts in the environment of every subprocess.
REQUEST = "COVERAGE_PROCESS_CONFIG"
PACKAGE = "alembic_flask_env"
#: Sorted around coverage.py's own "a1_coverage.pth": read before and after it.
PTH_BEFORE = "a0_alembic_flask_env_coverage.pth"
PTH_AFTER = "a2_alembic_flask_env_coverage.pth"


class StartCoverageOnFirstImport:
    """A meta path finder that finds nothing: it only notices the first
    import of the package, and starts coverage.py just before it runs.
    """

    def __init__(self, request: str) -> None:
        self.request = request

    def find_spec(
        self,
        name: str,
        path: Sequence[str] | None = None,
        target: ModuleType | None = None,
    ) -> ModuleSpec | None:
        if name == PACKAGE or name.startswith(PACKAGE + "."):
            sys.meta_path.remove(self)
            import coverage

            coverage.process_startup()
        return None


def defer() -> None:
    """Called by the first ``.pth`` file: take coverage.py's request out of
    the environment, so that its own ``.pth`` file does nothing, and start
    coverage.py when the package is first imported.
    """
    request = os.environ.pop(REQUEST, None)
    # A virtualenv's site-packages can be on sys.path twice (lib64 is a
    # link to lib), and its .pth files are then read twice: one finder.
    if request is not None and not any(
        isinstance(finder, StartCoverageOnFirstImport) for finder in sys.meta_path
    ):
        sys.meta_path.insert(0, StartCoverageOnFirstImport(request))


def restore() -> None:
    """Called by the last ``.pth`` file: the request back in the
    environment, for the processes this one starts.
    """
    for finder in sys.meta_path:
        if isinstance(finder, StartCoverageOnFirstImport):
            os.environ[REQUEST] = finder.request


def install() -> Path:
    """Copy this module into the running Python's site-packages, with the
    ``.pth`` files that call :func:`defer` and :func:`restore`.
    """
    site_packages = Path(sysconfig.get_paths()["purelib"])
    (site_packages / "alembic_flask_env_coverage.py").write_text(
        Path(__file__).read_text(encoding="utf-8"), encoding="utf-8"
    )
    for name, function in ((PTH_BEFORE, "defer"), (PTH_AFTER, "restore")):
        (site_packages / name).write_text(
            "import alembic_flask_env_coverage;"
            f" alembic_flask_env_coverage.{function}()\n",
            encoding="utf-8",
        )
    return site_packages


if __name__ == "__main__":
    print(f"coverage starts at the package's first import in {install()}")
