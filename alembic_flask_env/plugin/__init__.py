"""The module Alembic loads through the ``alembic.plugins`` entry point.

Alembic imports this module in *every* process that runs ``import alembic``,
while ``alembic`` itself is still half-imported, and nothing catches an
exception raised here. So this module imports only the standard library,
does as little as possible, and never lets an error escape: a broken plugin
must not break Alembic for applications that never use it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alembic.runtime.plugins import Plugin

log = logging.getLogger(__name__)


def setup(plugin: Plugin) -> None:
    """Make the package's templates visible to ``alembic init`` and
    ``alembic list_templates``.

    :param plugin: the :class:`~alembic.runtime.plugins.Plugin` Alembic made
        for this entry point. We register no autogenerate comparators.
    """
    try:
        from . import template_lookup

        template_lookup.install()
    except Exception:
        log.warning(
            "alembic_flask_env could not add its templates to Alembic;"
            " 'alembic init -t <path to alembic_flask_env/templates/flask>'"
            " still works.",
            exc_info=True,
        )
