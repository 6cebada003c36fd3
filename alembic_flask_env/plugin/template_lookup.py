"""Teach Alembic's ``Config`` where our templates live.

Alembic looks templates up in exactly one directory, returned by
``Config._get_template_path()``; there is no template entry point. We wrap
that method so the directory it returns also resolves and lists our
templates, after Alembic's own (which win on a name clash).

``alembic.config`` cannot be imported while the plugin loads (``alembic`` is
half-initialised then), so the wrapping waits, through a one-shot import
hook, until something imports ``alembic.config`` for real. A process that
never does so (an app that only uses ``alembic.op``) is left untouched.

Standard library only: this runs on the plugin's load path.
"""

from __future__ import annotations

import importlib.abc
import logging
import sys
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

log = logging.getLogger(__name__)

#: Where our templates live; each subdirectory with a README is one template.
TEMPLATES_DIR = Path(__file__).resolve().parents[1] / "templates"

_CONFIG_MODULE = "alembic.config"
_MARKER = "__alembic_flask_env_wrapped__"


def install() -> None:
    """Wrap ``Config._get_template_path`` now if ``alembic.config`` is
    loaded, otherwise as soon as it is. Calling it twice is harmless.
    """
    module = sys.modules.get(_CONFIG_MODULE)
    if module is not None:
        _wrap_config_class(module)
    elif not any(isinstance(f, _ConfigModuleFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _ConfigModuleFinder())


class _ConfigModuleFinder(importlib.abc.MetaPathFinder):
    """Finds ``alembic.config`` through the other finders and hands back its
    spec with a loader that wraps ``Config`` right after the module runs.
    Removes itself on first use.
    """

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> Any:
        if fullname != _CONFIG_MODULE:
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        for finder in sys.meta_path:
            find_spec = getattr(finder, "find_spec", None)
            if find_spec is None:
                continue
            spec = find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _WrappingLoader(spec.loader)
                return spec
        return None


class _WrappingLoader(importlib.abc.Loader):
    """Delegates everything to Alembic's real loader, then wraps ``Config``."""

    def __init__(self, wrapped: importlib.abc.Loader) -> None:
        self._wrapped = wrapped

    def create_module(self, spec: Any) -> ModuleType | None:
        return self._wrapped.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._wrapped.exec_module(module)
        _wrap_config_class(module)

    def __getattr__(self, name: str) -> Any:
        # get_source, get_filename, ... for tracebacks and inspect.
        return getattr(self._wrapped, name)


def _wrap_config_class(config_module: ModuleType) -> None:
    try:
        config_class = config_module.Config
        original = config_class._get_template_path
        if getattr(original, _MARKER, False):
            return
        config_class._get_template_path = _with_our_templates(original)
    except Exception:
        # Never break Alembic: without the wrapper the absolute template
        # path still works.
        log.warning(
            "alembic_flask_env could not add its templates to alembic.config.Config",
            exc_info=True,
        )


def _with_our_templates(
    original: Callable[[Any], Path],
) -> Callable[[Any], Path]:
    def _get_template_path(self: Any) -> Path:
        return MergedTemplateRoot(original(self))

    setattr(_get_template_path, _MARKER, True)
    _get_template_path.__doc__ = original.__doc__
    return _get_template_path


class MergedTemplateRoot(type(Path())):  # type: ignore[misc]
    """Alembic's template directory, which also resolves and lists ours.

    ``alembic init`` does ``root / name`` and ``list_templates`` does
    ``root.iterdir()``; those are the two operations that see our templates.
    Both return plain paths, so nothing downstream carries the merge along.
    """

    def __truediv__(self, name: Any) -> Path:
        own: Path = Path(self) / name
        if own.exists() or not isinstance(name, str):
            return own
        ours = TEMPLATES_DIR / name
        return ours if _is_template(ours) else own

    def iterdir(self) -> Iterator[Path]:
        seen = set()
        for path in Path(self).iterdir():
            seen.add(path.name)
            yield path
        for path in sorted(TEMPLATES_DIR.iterdir()):
            if path.name not in seen and _is_template(path):
                yield path


def _is_template(path: Path) -> bool:
    # list_templates opens every template's README: a folder without one
    # would break the whole listing.
    return (path / "README").is_file()
