"""The exact refusals of bad tenant settings and of a ``flask_tenants``
callable that cannot be used, in process, through the functions a run
calls (read_tenant_settings, list_tenants).

One of each path stays end-to-end in tests/test_tenants.py
(test_bad_tenant_settings_fail_before_any_tenant,
test_a_tenants_callable_that_cannot_be_used and the tests after it): the
FAILED: line and nothing touched. These are the other values of the same
paths, which cost a subprocess each there.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from alembic.config import Config

from alembic_flask_env.errors import InvalidSetting
from alembic_flask_env.errors import TenantsNotFound
from alembic_flask_env.settings import Setting
from alembic_flask_env.tenants.settings import read_tenant_settings
from alembic_flask_env.tenants.source import Tenant
from alembic_flask_env.tenants.source import list_tenants

#: The blog project, whose tenancy module names the callables.
BLOG = Path(__file__).resolve().parents[1] / "projects" / "blog"


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        (
            "tenant_failures=ignore",
            "tenant_failures = 'ignore' (from -x tenant_failures=...) is neither"
            " 'stop' nor 'continue'. Set tenant_failures = stop (the default: start"
            " no tenant after one fails) or tenant_failures = continue (migrate"
            " every tenant that can be).",
        ),
        (
            "tenant_shard=3/3",
            "tenant_shard = '3/3' (from -x tenant_shard=...) (index 3 of 3 shards)"
            " names no shard: the index must be from 0 to 2. Set tenant_shard to"
            " INDEX/COUNT, from 0/COUNT to COUNT-1/COUNT (for example tenant_shard"
            " = 0/4), or to COUNT alone in a Kubernetes Indexed Job, which sets"
            " JOB_COMPLETION_INDEX.",
        ),
        (
            "tenant_shard=4",
            "tenant_shard = '4' (from -x tenant_shard=...) gives the count only,"
            " and JOB_COMPLETION_INDEX is 'not set', not this run's index. Set"
            " tenant_shard to INDEX/COUNT, from 0/COUNT to COUNT-1/COUNT (for"
            " example tenant_shard = 0/4), or to COUNT alone in a Kubernetes"
            " Indexed Job, which sets JOB_COMPLETION_INDEX.",
        ),
        (
            "tenant_report=missing/report.json",
            "tenant_report = 'missing/report.json' (from -x tenant_report=...) is in"
            " a directory that does not exist. Point tenant_report at a file in a"
            " directory that exists and is writable.",
        ),
        (
            "tenant_jobs=two",
            "tenant_jobs = 'two' (from -x tenant_jobs=...) is not a whole number,"
            " 0 or more. Set tenant_jobs to how many tenants to migrate at once,"
            " for example tenant_jobs = 4.",
        ),
        (
            "tenant_canary=-1",
            "tenant_canary = '-1' (from -x tenant_canary=...) is not a whole"
            " number, 0 or more. Set tenant_canary to how many tenants to migrate"
            " alone first, for example tenant_canary = 1.",
        ),
        (
            "tenant_shard=1/two",
            "tenant_shard = '1/two' (from -x tenant_shard=...) is not INDEX/COUNT."
            " Set tenant_shard to INDEX/COUNT, from 0/COUNT to COUNT-1/COUNT (for"
            " example tenant_shard = 0/4), or to COUNT alone in a Kubernetes"
            " Indexed Job, which sets JOB_COMPLETION_INDEX.",
        ),
    ],
)
def test_bad_tenant_settings_are_refused_with_their_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, argument: str, message: str
) -> None:
    monkeypatch.chdir(tmp_path)  # the report's directory is relative to it
    monkeypatch.delenv("JOB_COMPLETION_INDEX", raising=False)
    key, value = argument.split("=", 1)
    with pytest.raises(InvalidSetting) as raised:
        read_tenant_settings(Config(), {key: value})
    assert str(raised.value) == message


@pytest.fixture
def tenancy(
    tmp_path: Path, isolated_imports: None, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """The blog's tenancy module importable, as the run's prepend_sys_path
    makes it; the tenants' folder (BLOG_TENANT_DIR) is ``instance/`` of
    ``tmp_path``, the working directory.
    """
    monkeypatch.syspath_prepend(str(BLOG))
    monkeypatch.chdir(tmp_path)
    instance = tmp_path / "instance"
    instance.mkdir()
    monkeypatch.setenv("BLOG_TENANTS", "acme,beta,gamma,delta")
    monkeypatch.setenv("BLOG_TENANT_DIR", str(instance))
    return instance


def refusal(value: str) -> str:
    setting = Setting("flask_tenants", value, "-x flask_tenants=...")
    with pytest.raises(TenantsNotFound) as raised:
        list_tenants(setting)
    return str(raised.value)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "tenancy:not_callable",
            "flask_tenants = 'tenancy:not_callable' (from -x flask_tenants=...) is a"
            " builtins.list, not a callable. Name a function that returns the"
            " tenants, for example flask_tenants = yourpackage.tenancy:tenants.",
        ),
        (
            "tenancy:a_number",
            "flask_tenants = 'tenancy:a_number' (from -x flask_tenants=...)"
            " returned a builtins.int, which lists no tenants. Return an iterable"
            " of PostgreSQL schema names (['acme', 'beta']) or a mapping of"
            " tenant name to database URL or Engine"
            " ({'acme': 'postgresql://.../acme'}).",
        ),
        (
            "tenancy:duplicated",
            "flask_tenants = 'tenancy:duplicated' (from -x flask_tenants=...)"
            " returned tenant 'acme' twice; each tenant must be listed once (one"
            " schema or database, one alembic_version). Remove the duplicate;"
            " nothing was touched.",
        ),
        (
            "tenancy:bad_schema",
            "flask_tenants = 'tenancy:bad_schema' (from -x flask_tenants=...)"
            ' returned "Robert\'); DROP TABLE students;--" among the schema'
            " names, which is not a PostgreSQL identifier as the server stores"
            " it (a lowercase letter or _, then lowercase letters, digits, _ or"
            " $, at most 63 in all). Return the tenants' schema names as"
            " pg_namespace has them; nothing was touched.",
        ),
    ],
)
def test_a_tenants_callable_that_lists_no_usable_tenant(
    tenancy: Path, value: str, message: str
) -> None:
    assert refusal(value) == message
    assert list(tenancy.iterdir()) == []


def test_the_blogs_tenants_are_listed_here_as_in_a_run(tenancy: Path) -> None:
    """The fixture reaches the same callables a run does: what the others
    refuse is the callable's, not a module that failed to load.
    """
    setting = Setting("flask_tenants", "tenancy:databases", "-x flask_tenants=...")
    [acme, *_] = list_tenants(setting)
    assert acme == Tenant("acme", url=acme.url)
    assert acme.url is not None and acme.url.database == f"{tenancy}/acme.db"


def test_a_url_that_does_not_parse_is_masked(tenancy: Path) -> None:
    message = refusal("tenancy:bad_url")
    assert message.startswith(
        "flask_tenants = 'tenancy:bad_url' (from -x flask_tenants=...) returned"
        " 'postgresql://***@db.internal:notaport/acme' for tenant 'acme', which"
        " is not a database URL SQLAlchemy can use ("
    )
    assert "hunter2" not in message


def test_a_raising_callable_keeps_its_traceback(
    tenancy: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """(End to end, the same path's traceback on stderr: the generator that
    raises midway in tests/test_tenants.py.)
    """
    with caplog.at_level(logging.ERROR):
        message = refusal("tenancy:raising")
    assert message == (
        "flask_tenants = 'tenancy:raising' (from -x flask_tenants=...)"
        " raised LookupError: the tenants service is down (its traceback is"
        " above); no tenant was touched. Fix the callable and run again."
    )
    assert 'tenancy.py", line' in caplog.text
    assert "LookupError: the tenants service is down" in caplog.text


def test_two_tenants_on_one_database_are_refused(tenancy: Path) -> None:
    shared = tenancy / "shared.db"
    assert refusal("tenancy:one_database_twice") == (
        "flask_tenants = 'tenancy:one_database_twice' (from -x flask_tenants=...)"
        " returned tenants 'acme' and 'beta' on the same database,"
        f" sqlite+pysqlite:///{shared}: they would share its alembic_version, so"
        " the second would never get its tables. Point each tenant at a database"
        " of its own (or return schema names for tenants that share one); nothing"
        " was touched."
    )
    assert list(tenancy.iterdir()) == []
