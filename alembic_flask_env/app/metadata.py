"""Resolve ``flask_metadata = module:attribute`` to a ``MetaData``.

Apps without Flask-SQLAlchemy (Flask-SQLAlchemy-Lite, plain SQLAlchemy) keep
their tables on their own declarative ``Base.metadata``, which no extension
knows about; this key names it.
"""

from __future__ import annotations

from sqlalchemy.schema import MetaData

from ..errors import MetadataNotFound
from ..settings import EXAMPLES
from ..settings import METADATA_KEY
from ..settings import Setting
from .objects import resolve_object
from .objects import type_name

_WHAT = "the metadata of your models"


def load_metadata(setting: Setting) -> MetaData:
    """:raises MetadataNotFound: the setting does not lead to a ``MetaData``."""
    example = EXAMPLES[METADATA_KEY]
    target = resolve_object(setting, example, _WHAT, MetadataNotFound)
    if not isinstance(target, MetaData):
        raise MetadataNotFound(
            f"{setting.describe()} is a {type_name(target)}, not a sqlalchemy"
            f" MetaData. Name the metadata itself, for example {setting.key} ="
            f" {example}."
        )
    return target
