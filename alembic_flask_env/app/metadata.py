"""Resolve ``flask_metadata = module:attribute`` to a ``MetaData``.

Apps without Flask-SQLAlchemy (Flask-SQLAlchemy-Lite, plain SQLAlchemy) keep
their tables on their own declarative ``Base.metadata``, which no extension
knows about; this key names it. The grammar is ``module:attr.attr``,
resolved with :func:`importlib.import_module` and :func:`getattr`, never
``eval``, inside the app context (a models module may use ``current_app``).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from sqlalchemy.schema import MetaData

from ..errors import MetadataNotFound
from ..settings import Setting

_EXAMPLE = "yourpackage.models:Base.metadata"


def load_metadata(setting: Setting) -> MetaData:
    """:raises MetadataNotFound: the setting does not lead to a ``MetaData``."""
    module_name, _, attribute_path = (
        part.strip() for part in setting.value.partition(":")
    )
    if not module_name or not attribute_path:
        raise MetadataNotFound(
            f"{setting.describe()} is not 'module:attribute'. Name the metadata"
            f" of your models, for example {setting.key} = {_EXAMPLE}."
        )
    if module_name.startswith("."):
        raise MetadataNotFound(
            f"{setting.describe()} names the relative module {module_name!r},"
            " which has no package to be relative to. Write the module's full"
            f" name, for example {setting.key} = {_EXAMPLE}."
        )
    try:
        target: object = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if module_name != missing and not module_name.startswith(missing + "."):
            raise  # the models module's own import failed: its traceback
        raise MetadataNotFound(
            f"{setting.describe()}: could not import module {module_name!r}."
            f" Check the spelling, for example {setting.key} = {_EXAMPLE}."
        ) from None
    walked = module_name
    for attribute in attribute_path.split("."):
        try:
            target = getattr(target, attribute)
        except AttributeError:
            # Named by where it was reached and its type, never its repr: a
            # config object or dict would print the app's secrets.
            raise MetadataNotFound(
                f"{setting.describe()}: {attribute!r} was not found in"
                f" {_what(target, walked)}. Name the metadata of your models,"
                f" for example {setting.key} = {_EXAMPLE}."
            ) from None
        walked += f"{'.' if ':' in walked else ':'}{attribute}"
    if not isinstance(target, MetaData):
        raise MetadataNotFound(
            f"{setting.describe()} is a {type(target).__module__}."
            f"{type(target).__qualname__}, not a sqlalchemy MetaData. Name the"
            f" metadata itself, for example {setting.key} = {_EXAMPLE}."
        )
    return target


def _what(target: object, walked: str) -> str:
    """``module 'x'``, ``DeclarativeMeta 'Base'``, or ``x:y (a
    flask.config.Config)``.
    """
    if isinstance(target, ModuleType):
        return f"module {target.__name__!r}"
    if isinstance(target, type):  # a class: its name is no secret
        return f"{type(target).__name__} {target.__name__!r}"
    kind = type(target)
    return f"{walked} (a {kind.__module__}.{kind.__qualname__})"
