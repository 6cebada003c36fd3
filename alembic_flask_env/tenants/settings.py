"""The keys of a many-tenant run, checked before any tenant is touched."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import InvalidSetting
from ..settings import EXAMPLES
from ..settings import TENANT_CANARY_KEY
from ..settings import TENANT_FAILURES_KEY
from ..settings import TENANT_JOBS_KEY
from ..settings import TENANT_REPORT_KEY
from ..settings import TENANT_SELECTION_KEY
from ..settings import TENANT_SHARD_KEY
from ..settings import Setting
from ..settings import count
from ..settings import find_setting

if TYPE_CHECKING:
    from alembic.config import Config

#: What ``tenant_failures`` takes.
STOP = "stop"
CONTINUE = "continue"
#: Set by Kubernetes in each pod of an Indexed Job.
JOB_INDEX_VARIABLE = "JOB_COMPLETION_INDEX"
_SHARD = re.compile(r"(?:([0-9]+)/)?([0-9]+)", re.ASCII)


@dataclass(frozen=True)
class Shard:
    """This run's share of the tenants: those whose stable hash, modulo
    ``count``, is ``index``.
    """

    index: int
    count: int
    setting: Setting


@dataclass(frozen=True)
class TenantSettings:
    #: Worker processes that migrate tenants at once.
    jobs: int
    #: ``stop`` or ``continue`` after a tenant fails.
    failures: str
    #: Tenants migrated alone first; a failure among them stops the run.
    canary: int
    #: Where to write the JSON report, if anywhere.
    report: Path | None
    shard: Shard | None
    #: ``-x tenants=`` (or the key): the tenants to run, or None for all.
    selection: Setting | None


def read_tenant_settings(
    config: Config, x_arguments: Mapping[str, str]
) -> TenantSettings:
    """:raises InvalidSetting: a value that cannot be used."""

    def found(key: str) -> Setting | None:
        return find_setting(config, x_arguments, key)

    jobs_setting = found(TENANT_JOBS_KEY)
    jobs = (
        count(jobs_setting, "how many tenants to migrate at once")
        if jobs_setting is not None
        else usable_cpus()
    )
    if jobs_setting is not None and jobs < 1:
        raise InvalidSetting(
            f"{jobs_setting.describe()} is no number of worker processes. Set"
            f" {TENANT_JOBS_KEY} to 1 or more, for example {TENANT_JOBS_KEY} ="
            f" {EXAMPLES[TENANT_JOBS_KEY]} (1: one tenant at a time, in this"
            " process), or leave it unset for one per CPU."
        )
    failures_setting = found(TENANT_FAILURES_KEY)
    failures = (failures_setting.value.lower() if failures_setting else STOP).strip()
    if failures_setting is not None and failures not in (STOP, CONTINUE):
        raise InvalidSetting(
            f"{failures_setting.describe()} is neither {STOP!r} nor {CONTINUE!r}."
            f" Set {TENANT_FAILURES_KEY} = {STOP} (the default: start no"
            " tenant after one fails) or"
            f" {TENANT_FAILURES_KEY} = {CONTINUE} (migrate every tenant"
            " that can be)."
        )
    canary_setting = found(TENANT_CANARY_KEY)
    canary = (
        count(canary_setting, "how many tenants to migrate alone first")
        if canary_setting is not None
        else 0
    )
    return TenantSettings(
        jobs=jobs,
        failures=failures,
        canary=canary,
        report=_report_path(found(TENANT_REPORT_KEY)),
        shard=_shard(found(TENANT_SHARD_KEY)),
        selection=found(TENANT_SELECTION_KEY),
    )


def usable_cpus() -> int:
    """The CPUs this process may use: those it may run on (a container's
    cpuset, a ``taskset``) and no more than its cgroup's CPU quota (a
    Kubernetes CPU limit) allows; not every CPU of the host, which
    ``os.cpu_count()`` says, and which would fork a worker (and open two
    connections) per CPU of a large node.
    """
    cpus = (
        len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count() or 1
    )
    quota = _cgroup_cpu_quota()
    return max(1, min(cpus, quota) if quota is not None else cpus)


#: Where cgroup v2, then v1, say how much CPU time per period the process
#: may use ("max" or -1: no limit).
_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")
_CFS_QUOTA = Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us")
_CFS_PERIOD = Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us")


def _cgroup_cpu_quota() -> int | None:
    """The CPU limit of the process's cgroup, rounded up; None without one."""
    try:
        quota, period = _CPU_MAX.read_text().split()[:2]
    except (OSError, ValueError):
        try:
            quota, period = _CFS_QUOTA.read_text(), _CFS_PERIOD.read_text()
        except OSError:
            return None
    try:
        allowed, per = int(quota), int(period)
    except ValueError:  # "max"
        return None
    if allowed <= 0 or per <= 0:  # -1: no limit
        return None
    return math.ceil(allowed / per)


def _report_path(setting: Setting | None) -> Path | None:
    """:raises InvalidSetting: the report's directory does not exist (found
    now, not after every tenant has been migrated).
    """
    if setting is None:
        return None
    path = Path(setting.value)
    if not path.parent.is_dir():
        raise InvalidSetting(
            f"{setting.describe()} is in a directory that does not exist. Point"
            f" {TENANT_REPORT_KEY} at a file in a directory that exists and is"
            " writable."
        )
    return path


def _shard(setting: Setting | None) -> Shard | None:
    """``INDEX/COUNT``, or ``COUNT`` with the index from Kubernetes'
    ``JOB_COMPLETION_INDEX``.

    :raises InvalidSetting: neither form, no index anywhere, or an index
        that is not below the count.
    """
    if setting is None:
        return None
    matched = _SHARD.fullmatch(setting.value.strip())
    advice = (
        f" Set {TENANT_SHARD_KEY} to INDEX/COUNT, from 0/COUNT to"
        f" COUNT-1/COUNT (for example {TENANT_SHARD_KEY} ="
        f" {EXAMPLES[TENANT_SHARD_KEY]}), or to COUNT alone in a Kubernetes"
        f" Indexed Job, which sets {JOB_INDEX_VARIABLE}."
    )
    if matched is None:
        raise InvalidSetting(f"{setting.describe()} is not INDEX/COUNT.{advice}")
    index_text, count_text = matched.groups()
    if index_text is None:
        index_text = os.environ.get(JOB_INDEX_VARIABLE, "").strip()
        if not index_text.isascii() or not index_text.isdigit():
            raise InvalidSetting(
                f"{setting.describe()} gives the count only, and"
                f" {JOB_INDEX_VARIABLE} is {index_text or 'not set'!r}, not this"
                f" run's index.{advice}"
            )
    index, total = int(index_text), int(count_text)
    if total < 1 or index >= total:
        raise InvalidSetting(
            f"{setting.describe()} (index {index} of {total} shards) names no"
            f" shard: the index must be from 0 to {max(total - 1, 0)}.{advice}"
        )
    return Shard(index, total, setting)
