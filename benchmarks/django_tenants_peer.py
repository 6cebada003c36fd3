"""django-tenants migrating N PostgreSQL schemas: a peer measured side by side.

    python benchmarks/django_tenants_peer.py [--url URL] [--tenants 500] [--processes 4]

This module exists only to measure a peer side by side with the package's
own tenant runs: django-tenants is never a dependency of alembic_flask_env,
and this module never imports Django. Everything on the Django side runs in
subprocesses (``manage.py`` commands and one small generated script) inside a
throwaway project, so only Django and django-tenants need to be installed in
the interpreter that runs this file (``pip install django django-tenants``;
psycopg 3 is enough, psycopg2 is not needed).

What it does, on a fresh database created on the server that ``--url`` names
(a SQLAlchemy URL, by default ``$ALEMBIC_FLASK_ENV_TEST_POSTGRESQL_URL``; the
role needs CREATEDB), dropped at the end even on failure:

1. writes a Django project: a shared ``customers`` app (``Client``, a
   ``TenantMixin`` with ``auto_create_schema = False``, and ``Domain``) and a
   tenant app ``fleet`` with ten hand-written migrations, 0001 to 0010, the
   i-th creating table ``fleet_t{i}`` (id, name varchar(50), created);
2. untimed: ``migrate_schemas --shared``, then N ``Client`` rows
   (``t0000``...) by ``bulk_create`` and N empty schemas by ``CREATE SCHEMA``;
3. timed: ``manage.py migrate_schemas --tenant --executor=multiprocessing``
   with ``TENANT_MULTIPROCESSING_MAX_PROCESSES = processes`` (the executor has
   no command-line option for it; ``--parallel`` is for the subprocess
   executor only) and the default ``TENANT_MULTIPROCESSING_CHUNKS`` (2): wall
   time from start to exit, interpreter start-up and Django set-up included;
4. checks that every tenant schema holds the ten ``fleet`` tables.

Note that each tenant schema also gets ``django_migrations`` and
``django_content_type`` (contenttypes is a tenant app, as the brief of a
django-tenants project has it), and the post-migrate signal fills the latter:
that is part of what django-tenants costs per tenant.

Memory: ``max_rss_kb`` is ``ru_maxrss`` from ``os.wait4`` on the
``manage.py`` process, which is the largest resident set of that process or
any descendant it reaped (the pool workers are), not a sum. ``tree_pss_kb``
is the peak of the process tree's summed PSS (proportional set size, so pages
the forked workers share are counted once), sampled from
``/proc/<pid>/smaps_rollup`` every ``SAMPLE_SECONDS``; ``None`` where /proc
does not offer it.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import secrets
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote
from urllib.parse import urlsplit

import psycopg
from psycopg import sql

URL_ENV = "ALEMBIC_FLASK_ENV_TEST_POSTGRESQL_URL"
TABLES = 10
SAMPLE_SECONDS = 0.05

SETTINGS = """
import os

SECRET_KEY = "benchmark-only"
DEBUG = False
USE_TZ = True
ALLOWED_HOSTS = ["*"]
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

DATABASES = {
    "default": {
        "ENGINE": "django_tenants.postgresql_backend",
        "NAME": os.environ["BENCH_DT_NAME"],
        "USER": os.environ["BENCH_DT_USER"],
        "PASSWORD": os.environ["BENCH_DT_PASSWORD"],
        "HOST": os.environ["BENCH_DT_HOST"],
        "PORT": os.environ["BENCH_DT_PORT"],
    }
}
DATABASE_ROUTERS = ("django_tenants.routers.TenantSyncRouter",)

SHARED_APPS = ("django_tenants", "customers", "django.contrib.contenttypes")
TENANT_APPS = ("django.contrib.contenttypes", "fleet")
INSTALLED_APPS = list(SHARED_APPS) + [
    app for app in TENANT_APPS if app not in SHARED_APPS
]
TENANT_MODEL = "customers.Client"
TENANT_DOMAIN_MODEL = "customers.Domain"
TENANT_MULTIPROCESSING_MAX_PROCESSES = int(os.environ["BENCH_DT_PROCESSES"])
"""

MANAGE = """
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchsite.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
"""

CUSTOMERS_MODELS = """
from django.db import models
from django_tenants.models import DomainMixin
from django_tenants.models import TenantMixin


class Client(TenantMixin):
    name = models.CharField(max_length=100)
    auto_create_schema = False


class Domain(DomainMixin):
    pass
"""

FLEET_MODEL = """

class T{i}(models.Model):
    name = models.CharField(max_length=50)
    created = models.DateTimeField()
"""

FLEET_MIGRATION = """
from django.db import migrations
from django.db import models


class Migration(migrations.Migration):
    initial = {initial}
    dependencies = [{dependencies}]
    operations = [
        migrations.CreateModel(
            name="T{i}",
            fields=[
                (
                    "id",
                    models.AutoField(
                        auto_created=True,
                        primary_key=True,
                        serialize=False,
                        verbose_name="ID",
                    ),
                ),
                ("name", models.CharField(max_length=50)),
                ("created", models.DateTimeField()),
            ],
        ),
    ]
"""

MAKE_TENANTS = """
import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchsite.settings")
django.setup()

from customers.models import Client  # noqa: E402

count = int(sys.argv[1])
Client.objects.bulk_create(
    Client(schema_name=f"t{n:04d}", name=f"tenant {n}") for n in range(count)
)
"""


def _connect_kwargs(url: str) -> dict[str, Any]:
    """Host, port, user, password and database of a SQLAlchemy URL."""
    parts = urlsplit(url)
    return {
        "host": parts.hostname or "localhost",
        "port": parts.port or 5432,
        "user": unquote(parts.username or ""),
        "password": unquote(parts.password or ""),
        "dbname": unquote(parts.path.lstrip("/")) or "postgres",
    }


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())


def _write_project(root: Path) -> None:
    _write(root / "manage.py", MANAGE)
    _write(root / "benchsite" / "__init__.py", "")
    _write(root / "benchsite" / "settings.py", SETTINGS)
    _write(root / "customers" / "__init__.py", "")
    _write(root / "customers" / "models.py", CUSTOMERS_MODELS)
    _write(root / "customers" / "migrations" / "__init__.py", "")
    _write(root / "fleet" / "__init__.py", "")
    _write(
        root / "fleet" / "models.py",
        "from django.db import models\n"
        + "".join(FLEET_MODEL.format(i=i) for i in range(1, TABLES + 1)),
    )
    _write(root / "fleet" / "migrations" / "__init__.py", "")
    previous = ""
    for i in range(1, TABLES + 1):
        name = f"{i:04d}_t{i}"
        _write(
            root / "fleet" / "migrations" / f"{name}.py",
            FLEET_MIGRATION.format(
                i=i,
                initial=i == 1,
                dependencies=f'("fleet", "{previous}")' if previous else "",
            ),
        )
        previous = name
    _write(root / "make_tenants.py", MAKE_TENANTS)


def _django(root: Path, env: dict[str, str], *args: str) -> None:
    """Run ``python *args`` in the project; raise with its output on failure."""
    done = subprocess.run(
        [sys.executable, *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(
            f"{' '.join(args)} exited {done.returncode}:\n"
            f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
        )


def _tree_pss_kb(pid: int) -> int | None:
    """Summed PSS of ``pid`` and its descendants, None if /proc cannot say."""
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            children = Path(f"/proc/{current}/task/{current}/children").read_text()
            rollup = Path(f"/proc/{current}/smaps_rollup").read_text()
        except FileNotFoundError:
            if current == pid:
                return None
            continue  # a worker that ended between two reads
        except (PermissionError, ProcessLookupError):
            continue
        pending.extend(int(child) for child in children.split())
        for line in rollup.splitlines():
            if line.startswith("Pss:"):
                total += int(line.split()[1])
                break
    return total


class _Sampler(threading.Thread):
    """Keeps the peak of ``_tree_pss_kb(pid)`` until ``stop`` is set."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak: int | None = None
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            sample = _tree_pss_kb(self.pid)
            if sample is not None:
                self.peak = max(self.peak or 0, sample)
            self.stop.wait(SAMPLE_SECONDS)


def _timed_migrate(root: Path, env: dict[str, str]) -> tuple[float, int, int | None]:
    """Seconds, ru_maxrss (KiB) and peak tree PSS (KiB) of the tenant run."""
    log = root / "migrate_schemas.log"
    with log.open("w") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "migrate_schemas",
                "--tenant",
                "--executor=multiprocessing",
                "--noinput",
            ],
            cwd=root,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        sampler = _Sampler(proc.pid)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        sampler.stop.set()
        sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise RuntimeError(
            f"migrate_schemas exited {proc.returncode}:\n{log.read_text()[-4000:]}"
        )
    # ru_maxrss is in KiB on Linux.
    return seconds, usage.ru_maxrss, sampler.peak


def _verify(conn: psycopg.Connection[Any], tenants: int) -> None:
    rows = conn.execute(
        """
        SELECT table_schema, count(*)
        FROM information_schema.tables
        WHERE table_schema ~ '^t[0-9]{4,}$' AND table_name ~ '^fleet_t[0-9]+$'
        GROUP BY table_schema
        """
    ).fetchall()
    counts = {schema: count for schema, count in rows}
    expected = {f"t{n:04d}" for n in range(tenants)}
    missing = sorted(expected - counts.keys())
    short = sorted(s for s, c in counts.items() if s in expected and c != TABLES)
    if missing or short or len(counts) != tenants:
        raise RuntimeError(
            f"expected {tenants} schemas with {TABLES} fleet tables each; "
            f"schemas without any: {missing[:10]} ({len(missing)}), "
            f"with another count: {short[:10]} ({len(short)}), "
            f"schemas seen: {len(counts)}"
        )


def run(url: str, tenants: int, processes: int) -> dict[str, Any]:
    """Migrate ``tenants`` schemas with django-tenants; the measured figures."""
    params = _connect_kwargs(url)
    dbname = f"bench_dt_{secrets.token_hex(4)}"
    with psycopg.connect(**params, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    try:
        with tempfile.TemporaryDirectory(prefix="bench_dt_") as tmp:
            root = Path(tmp)
            _write_project(root)
            env = {
                **os.environ,
                "DJANGO_SETTINGS_MODULE": "benchsite.settings",
                "BENCH_DT_NAME": dbname,
                "BENCH_DT_USER": params["user"],
                "BENCH_DT_PASSWORD": params["password"],
                "BENCH_DT_HOST": params["host"],
                "BENCH_DT_PORT": str(params["port"]),
                "BENCH_DT_PROCESSES": str(processes),
            }
            _django(root, env, "manage.py", "makemigrations", "customers")
            _django(root, env, "manage.py", "migrate_schemas", "--shared")
            _django(root, env, "make_tenants.py", str(tenants))
            with psycopg.connect(**{**params, "dbname": dbname}) as conn:
                for n in range(tenants):
                    conn.execute(
                        sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(f"t{n:04d}"))
                    )
            seconds, max_rss_kb, tree_pss_kb = _timed_migrate(root, env)
            with psycopg.connect(**{**params, "dbname": dbname}) as conn:
                _verify(conn, tenants)
    finally:
        with psycopg.connect(**params, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(dbname)
                )
            )
    return {
        "tool": "django-tenants",
        "version": importlib.metadata.version("django-tenants"),
        "django": importlib.metadata.version("django"),
        "tenants": tenants,
        "processes": processes,
        "cpus": os.cpu_count(),
        "seconds": round(seconds, 3),
        "max_rss_kb": max_rss_kb,
        "tree_pss_kb": tree_pss_kb,
        "rss_note": (
            "max_rss_kb: ru_maxrss from os.wait4 on manage.py, the largest "
            "single process of the tree (parent or a pool worker), not a sum; "
            f"tree_pss_kb: peak summed PSS of the tree sampled every "
            f"{SAMPLE_SECONDS}s from /proc"
        ),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--url",
        default=os.environ.get(URL_ENV),
        help=f"SQLAlchemy URL of a PostgreSQL server (default: ${URL_ENV})",
    )
    parser.add_argument("--tenants", type=int, default=500)
    parser.add_argument("--processes", type=int, default=4)
    args = parser.parse_args(argv)
    if not args.url:
        parser.error(f"--url or ${URL_ENV} is required")
    print(json.dumps(run(args.url, args.tenants, args.processes), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
