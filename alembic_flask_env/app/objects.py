"""Resolve a ``module:attribute.attribute`` setting to the object it names.

``flask_metadata`` and ``flask_tenants`` name an object of the user's code
the way ``flask --app`` names an app: resolved with
:func:`importlib.import_module` and :func:`getattr`, never ``eval``, inside
the app context (the module may use ``current_app``).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from ..errors import FlaskEnvError
from ..settings import Setting


def resolve_object(
    setting: Setting, example: str, what: str, error: type[FlaskEnvError]
) -> object:
    """The object ``setting`` names.

    :param example: a valid value, for the messages.
    :param what: completes "Name ..." in the messages ("the metadata of
        your models").
    :raises error: the value is not ``module:attribute``, the module is not
        there, or an attribute is missing. An ``ImportError`` raised inside
        the named module itself keeps its traceback.
    """
    module_name, _, attribute_path = (
        part.strip() for part in setting.value.partition(":")
    )
    if not module_name or not attribute_path:
        raise error(
            f"{setting.describe()} is not 'module:attribute'. Name {what}, for"
            f" example {setting.key} = {example}."
        )
    if module_name.startswith("."):
        raise error(
            f"{setting.describe()} names the relative module {module_name!r},"
            " which has no package to be relative to. Write the module's full"
            f" name, for example {setting.key} = {example}."
        )
    try:
        target: object = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if module_name != missing and not module_name.startswith(missing + "."):
            raise  # the named module's own import failed: its traceback
        raise error(
            f"{setting.describe()}: could not import module {module_name!r}."
            f" Check the spelling, for example {setting.key} = {example}."
        ) from None
    walked = module_name
    for attribute in attribute_path.split("."):
        try:
            target = getattr(target, attribute)
        except AttributeError:
            # Named by where it was reached and its type, never its repr: a
            # config object or dict would print the app's secrets.
            raise error(
                f"{setting.describe()}: {attribute!r} was not found in"
                f" {_what(target, walked)}. Name {what}, for example"
                f" {setting.key} = {example}."
            ) from None
        walked += f"{'.' if ':' in walked else ':'}{attribute}"
    return target


def type_name(value: object) -> str:
    """``package.module.Class`` of ``value``, for messages that must not
    print the value itself.
    """
    kind = type(value)
    return f"{kind.__module__}.{kind.__qualname__}"


def _what(target: object, walked: str) -> str:
    """``module 'x'``, ``DeclarativeMeta 'Base'``, or ``x:y (a
    flask.config.Config)``.
    """
    if isinstance(target, ModuleType):
        return f"module {target.__name__!r}"
    if isinstance(target, type):  # a class: its name is no secret
        return f"{type(target).__name__} {target.__name__!r}"
    return f"{walked} (a {type_name(target)})"
