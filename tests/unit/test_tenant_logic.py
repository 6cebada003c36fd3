"""The tenants' pure logic, in process: settings, listing, selection, shards,
the worker pool's policies and the report.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from alembic.config import Config
from sqlalchemy import create_engine

from alembic_flask_env.app.database import database_identity
from alembic_flask_env.errors import InvalidSetting
from alembic_flask_env.errors import TenantsFailed
from alembic_flask_env.errors import TenantsNotFound
from alembic_flask_env.settings import Setting
from alembic_flask_env.tenants import settings as tenant_settings
from alembic_flask_env.tenants.report import FAILED
from alembic_flask_env.tenants.report import MIGRATED
from alembic_flask_env.tenants.report import SKIPPED
from alembic_flask_env.tenants.report import TenantOutcome
from alembic_flask_env.tenants.report import summarise
from alembic_flask_env.tenants.report import write_report
from alembic_flask_env.tenants.selection import in_shard
from alembic_flask_env.tenants.selection import select_tenants
from alembic_flask_env.tenants.settings import TenantSettings
from alembic_flask_env.tenants.settings import read_tenant_settings
from alembic_flask_env.tenants.settings import usable_cpus
from alembic_flask_env.tenants.source import Tenant
from alembic_flask_env.tenants.source import list_tenants
from alembic_flask_env.tenants.workers import run_tenants


def settings_from(**x_arguments: str) -> TenantSettings:
    return read_tenant_settings(Config(), x_arguments)


def test_defaults() -> None:
    settings = settings_from()
    assert settings.jobs == usable_cpus()
    assert 1 <= usable_cpus() <= len(os.sched_getaffinity(0))
    assert (settings.failures, settings.canary, settings.report) == ("stop", 0, None)
    assert settings.shard is None and settings.selection is None


@pytest.mark.parametrize(
    ("cpu_max", "expected"),
    [("max 100000", None), ("150000 100000", 2), ("50000 100000", 1), ("x", None)],
)
def test_a_cgroup_cpu_limit_caps_the_default_jobs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cpu_max: str, expected: int | None
) -> None:
    """A Kubernetes CPU limit is a quota, not a cpuset: 1.5 CPUs is 2 jobs."""
    limit = tmp_path / "cpu.max"
    limit.write_text(cpu_max + "\n")
    monkeypatch.setattr(tenant_settings, "_CPU_MAX", limit)
    monkeypatch.setattr(tenant_settings, "_CFS_QUOTA", tmp_path / "absent")
    assert tenant_settings._cgroup_cpu_quota() == expected


def test_a_shard_from_kubernetes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOB_COMPLETION_INDEX", "2")
    shard = settings_from(tenant_shard="5").shard
    assert shard is not None and (shard.index, shard.count) == (2, 5)
    monkeypatch.setenv("JOB_COMPLETION_INDEX", "٢")  # not an ASCII digit
    with pytest.raises(InvalidSetting, match="JOB_COMPLETION_INDEX is '٢'"):
        settings_from(tenant_shard="5")


@pytest.mark.parametrize("value", ["1/", "/3", "a/3", "1/3/4", "-1/3", "0/0", "²/3"])
def test_shards_that_name_none(value: str) -> None:
    with pytest.raises(InvalidSetting, match="tenant_shard"):
        settings_from(tenant_shard=value)


def test_shards_split_a_fleet_once_and_stably() -> None:
    names = [f"tenant-{number}" for number in range(1000)]
    shards = [settings_from(tenant_shard=f"{index}/4").shard for index in range(4)]
    owners = [
        [index for index, shard in enumerate(shards) if shard and in_shard(name, shard)]
        for name in names
    ]
    assert all(len(owner) == 1 for owner in owners)
    sizes = [sum(1 for owner in owners if owner == [index]) for index in range(4)]
    assert all(200 < size < 300 for size in sizes), sizes
    # Adding tenants moves none of the others.
    assert owners[:10] == [
        [index for index, shard in enumerate(shards) if shard and in_shard(name, shard)]
        for name in names[:10]
    ]


def test_selection_keeps_the_listed_order() -> None:
    tenants = [Tenant(name, schema=name) for name in ("a", "b", "c")]
    chosen = select_tenants(tenants, Setting("tenants", "c, a", "-x"), None)
    assert [tenant.name for tenant in chosen] == ["a", "c"]
    with pytest.raises(InvalidSetting, match="names no tenant"):
        select_tenants(tenants, Setting("tenants", " , ", "-x"), None)


# -- the callables flask_tenants names, for list_tenants -----------------------


def generated() -> object:
    yield "acme"
    yield "beta"


def mapped() -> object:
    return {"acme": "sqlite:///acme.db", "beta": create_engine("sqlite://")}


def a_string() -> object:
    return "acme,beta"


def a_number_in_a_mapping() -> object:
    return {"acme": 42}


def an_empty_name() -> object:
    return {" ": "sqlite://"}


def an_unknown_dialect() -> object:
    return {"acme": "nosuchdb://user:s3cret@host/acme"}


def a_long_schema() -> object:
    return ["a" * 64]


def a_capitalised_schema() -> object:
    return ["Acme"]


def named(function: str) -> Setting:
    return Setting("flask_tenants", f"{__name__}:{function}", "-x")


def test_both_shapes_are_listed() -> None:
    assert list_tenants(named("generated")) == [
        Tenant("acme", schema="acme"),
        Tenant("beta", schema="beta"),
    ]
    acme, beta = list_tenants(named("mapped"))
    assert acme.url is not None and acme.url.database == "acme.db"
    assert beta.engine is not None and beta.describe() == "database sqlite://"


@pytest.mark.parametrize(
    ("function", "message"),
    [
        ("a_string", "returned a builtins.str, which lists no tenants"),
        ("a_number_in_a_mapping", "returned a builtins.int for tenant 'acme'"),
        ("an_empty_name", "returned ' ' as a tenant name"),
        ("an_unknown_dialect", "'nosuchdb://***@host/acme' for tenant 'acme'"),
        ("a_long_schema", "is not a PostgreSQL identifier"),
        ("a_capitalised_schema", "returned 'Acme' among the schema names"),
        ("missing", "'missing' was not found in module"),
    ],
)
def test_what_lists_no_tenant(function: str, message: str) -> None:
    with pytest.raises(TenantsNotFound) as raised:
        list_tenants(named(function))
    assert message in str(raised.value)
    assert "s3cret" not in str(raised.value)


# -- the worker pool -----------------------------------------------------------


def migrate_by_name(tenant: Tenant) -> TenantOutcome:
    """Fails the tenants named ``bad*``; a tenant named ``dies`` ends its
    worker process as a kill would.
    """
    if tenant.name.startswith("dies"):
        os._exit(9)
    if tenant.name.startswith("bad"):
        return TenantOutcome(tenant.name, FAILED, error="it broke")
    return TenantOutcome(tenant.name, MIGRATED, to="head")


def run(names: list[str], **x_arguments: str) -> tuple[dict[str, str], int]:
    outcomes, jobs = run_tenants(
        [Tenant(name, schema=name) for name in names],
        migrate_by_name,
        settings_from(**x_arguments),
        before_workers=lambda: None,
        in_worker=lambda: None,
    )
    assert [outcome.tenant for outcome in outcomes] == names
    return {outcome.tenant: outcome.status for outcome in outcomes}, jobs


def test_parallel_continue_runs_everything() -> None:
    names = [f"t{index}" for index in range(20)] + ["bad1"]
    statuses, jobs = run(names, tenant_jobs="3", tenant_failures="continue")
    assert jobs == 3
    assert statuses.pop("bad1") == FAILED
    assert set(statuses.values()) == {MIGRATED}


def test_stop_starts_nothing_after_a_failure() -> None:
    statuses, _ = run(["a", "bad", "b", "c"], tenant_jobs="1")
    assert statuses == {"a": MIGRATED, "bad": FAILED, "b": SKIPPED, "c": SKIPPED}


def test_a_failing_canary_stops_even_when_failures_continue() -> None:
    statuses, _ = run(
        ["bad", "a", "b"],
        tenant_jobs="2",
        tenant_canary="1",
        tenant_failures="continue",
    )
    assert statuses == {"bad": FAILED, "a": SKIPPED, "b": SKIPPED}


def test_when_every_worker_dies_this_process_migrates_the_rest() -> None:
    statuses, _ = run(
        ["dies", "dies-too", "a", "b", "c"], tenant_jobs="2", tenant_failures="continue"
    )
    assert statuses == {
        "dies": FAILED,
        "dies-too": FAILED,
        "a": MIGRATED,
        "b": MIGRATED,
        "c": MIGRATED,
    }


def test_a_dead_worker_fails_its_tenant_only() -> None:
    names = ["a", "dies", "b", "c", "d", "e"]
    statuses, _ = run(names, tenant_jobs="2", tenant_failures="continue")
    assert statuses.pop("dies") == FAILED
    assert set(statuses.values()) == {MIGRATED}


# -- the report ----------------------------------------------------------------


def test_the_summary_and_the_json(tmp_path: Path) -> None:
    outcomes = [
        TenantOutcome("a", MIGRATED, from_="", to="r2", seconds=0.12345),
        TenantOutcome("b", FAILED, from_="r1", to="r1", error="boom"),
        TenantOutcome("c", SKIPPED),
    ]
    assert summarise(outcomes, 2.0, 1) == (
        "Tenants: 1 migrated, 0 already there, 1 failed, 1 skipped, in 2.0 s (1 job)."
    )
    path = tmp_path / "report.json"
    write_report(path, outcomes)
    assert json.loads(path.read_text())[0] == {
        "tenant": "a",
        "status": "migrated",
        "from": "",
        "to": "r2",
        "seconds": 0.123,
        "error": None,
    }
    with pytest.raises(InvalidSetting, match="the report could not be written"):
        write_report(tmp_path / "report.json" / "inside-a-file", outcomes)


@pytest.mark.parametrize(
    ("first", "second", "same"),
    [
        ("postgresql://u:a@db/x", "postgresql+psycopg://u:b@DB/x", True),
        ("sqlite:///t/a.db", f"sqlite+pysqlite:///{os.path.abspath('t/a.db')}", True),
        ("postgresql://u@db/x", "postgresql://u@db/y", False),
        ("postgresql://u@db/x", "postgresql://v@db/x", False),
        ("postgresql://u@db/x", "postgresql://u@db/x?options=-csearch_path%3Da", False),
        ("sqlite://", "sqlite://", True),
    ],
)
def test_which_urls_name_one_database(first: str, second: str, same: bool) -> None:
    from sqlalchemy.engine import make_url

    assert (
        database_identity(make_url(first)) == database_identity(make_url(second))
    ) is same


def test_the_watchdog_ends_a_wait_that_lasts_too_long() -> None:
    import socket

    from alembic_flask_env.tenants.schemas import _Watchdog

    ours, theirs = socket.socketpair()
    with ours, theirs:
        with _Watchdog(ours.fileno(), 0.1) as watchdog:
            assert ours.recv(1) == b""  # (would wait for ever without it)
        assert watchdog.fired
    ours, theirs = socket.socketpair()
    with ours, theirs:
        theirs.sendall(b"x")
        with _Watchdog(ours.fileno(), 0.1) as watchdog:
            assert ours.recv(1) == b"x"
        time.sleep(0.2)
        assert not watchdog.fired
        theirs.sendall(b"y")
        assert ours.recv(1) == b"y"


def test_tenants_that_failed_alike_are_named_together() -> None:
    from alembic_flask_env.runtime.tenanted import _raise_for_failures

    outcomes = [
        TenantOutcome("a", FAILED, error="no server."),
        TenantOutcome("b", MIGRATED),
        TenantOutcome("c", FAILED, error="no server."),
        TenantOutcome("d", FAILED, error="other"),
    ]
    with pytest.raises(TenantsFailed) as raised:
        _raise_for_failures(outcomes)
    assert str(raised.value).startswith(
        "3 of 4 tenants failed: 'a', 'c': no server; 'd': other. Each failed"
    )


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("prctl", [True, False], ids=["prctl", "watching"])
def test_a_worker_ends_with_its_parent(prctl: bool) -> None:
    """The parent exits right after the fork, often before the worker has
    asked to end with it: the worker ends all the same, with prctl or with
    the thread that watches (what platforms without prctl get).
    """
    script = textwrap.dedent(
        f"""
        import os, time
        from alembic_flask_env.tenants import workers
        if not {prctl}:
            workers._kill_me_with_parent = lambda: False
        parent = os.getpid()
        child = os.fork()
        if child == 0:
            workers.end_with_parent(parent)
            time.sleep(30)
            os._exit(0)
        print(child, flush=True)
        os._exit(0)
        """
    )
    started = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    child = int(started.stdout)
    deadline = time.monotonic() + 5
    while _running(child) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _running(child)


def _running(pid: int) -> bool:
    """Alive and not a zombie (an orphan the container's init never reaps)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
