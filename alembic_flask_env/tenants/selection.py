"""Which of the listed tenants this run migrates: those ``-x tenants=``
names, then this run's shard of them.

A shard is chosen by a stable hash of the tenant's name, not by its place
in the list, so that N runners (CI jobs, the pods of a Kubernetes Indexed
Job) split one fleet with no coordinator even while tenants are added:
each tenant lands in the same shard on every runner and every run.
"""

from __future__ import annotations

import logging
import zlib
from typing import TYPE_CHECKING

from ..errors import InvalidSetting
from ..settings import TENANT_SELECTION_KEY

if TYPE_CHECKING:
    from ..settings import Setting
    from .settings import Shard
    from .source import Tenant

log = logging.getLogger(__name__)


def select_tenants(
    tenants: list[Tenant], selection: Setting | None, shard: Shard | None
) -> list[Tenant]:
    """The tenants to migrate, in the order the callable listed them.

    :raises InvalidSetting: the selection names no tenant, or one the
        callable did not list.
    """
    chosen = tenants if selection is None else _named(tenants, selection)
    if shard is not None:
        chosen = [tenant for tenant in chosen if in_shard(tenant.name, shard)]
        log.info(
            "%s: %d of %d tenants are this run's share.",
            shard.setting.describe(),
            len(chosen),
            len(tenants),
        )
    return chosen


def in_shard(name: str, shard: Shard) -> bool:
    return zlib.crc32(name.encode("utf-8")) % shard.count == shard.index


def _named(tenants: list[Tenant], selection: Setting) -> list[Tenant]:
    wanted = [name.strip() for name in selection.value.split(",") if name.strip()]
    if not wanted:
        raise InvalidSetting(
            f"{selection.describe()} names no tenant. Set {TENANT_SELECTION_KEY}"
            " to tenant names separated by commas, or leave it unset for all."
        )
    listed = {tenant.name for tenant in tenants}
    unknown = [name for name in wanted if name not in listed]
    if unknown:
        shown = ", ".join(tenant.name for tenant in tenants[:10])
        more = f" and {len(tenants) - 10} more" if len(tenants) > 10 else ""
        raise InvalidSetting(
            f"{selection.describe()} names {', '.join(map(repr, unknown))}, which"
            f" the tenants callable did not list (it listed {shown or 'none'}{more})."
            f" Set {TENANT_SELECTION_KEY} to some of those, separated by commas."
        )
    chosen = set(wanted)
    return [tenant for tenant in tenants if tenant.name in chosen]
