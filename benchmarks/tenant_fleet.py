"""What migrating a fleet of tenants costs, against the ways it is done today.

    python benchmarks/tenant_fleet.py [--tenants 500] [--jobs 4]
        [--shell-sample 0] [--scale 5000] [--peer]

A Flask-SQLAlchemy app with a PostgreSQL schema per tenant and ten
revisions (each creates a table), migrated from empty schemas:

(a) ``alembic upgrade head`` with ``flask_tenants`` and ``tenant_jobs = 1``;
(b) the same with ``tenant_jobs = --jobs``;
(c) a shell loop of one ``alembic -x tenants=NAME upgrade head`` per tenant,
    what teams script today (``--shell-sample K`` times K tenants of it and
    scales the time up to all of them, which a loop of identical processes
    allows; 0 runs every tenant);
(d) with ``--peer``: django-tenants' ``migrate_schemas --executor=multiprocessing``
    on the same schemas and tables (``django_tenants_peer.py``: a throwaway
    Django project, never a dependency of the package);
(e) with ``--scale N``: (b) on N tenants, for the memory of the largest
    process, which must stay flat (a record per tenant is a name, not an
    engine or a connection).

Targets: (b) at least 10 times faster than (c) and twice as fast as (d)
at the same number of processes, (e) under 24 ms a tenant (5,000 schemas
in two minutes), and the largest process of (e) at most 1.25 times that of
(b). Exits 1 when one is missed. The machine's load averages are printed
before and after: measure on a quiet machine, and always ours and the
peer in the same run. Each variant gets a fresh database on the server that
``ALEMBIC_FLASK_ENV_TEST_POSTGRESQL_URL`` names (``.ci/start-postgresql``),
dropped afterwards. Needs Flask-SQLAlchemy and psycopg beside this package.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy import text
from sqlalchemy.engine import make_url

BIN = Path(sys.executable).parent
URL_VARIABLE = "ALEMBIC_FLASK_ENV_TEST_POSTGRESQL_URL"
REVISIONS = 10
SHELL_SPEEDUP_TARGET = 10.0
PEER_SPEEDUP_TARGET = 2.0
#: The most a tenant of (e) may take: 5,000 in two minutes.
SCALE_SECONDS_PER_TENANT_TARGET = 0.024
MEMORY_GROWTH_TARGET = 1.25

APP = """
import os

from flask import Flask
from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()


def create_app():
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["FLEET_DATABASE_URI"]
    db.init_app(app)
    return app


def tenants():
    return (f"t{number:05d}" for number in range(int(os.environ["FLEET_TENANTS"])))
"""

#: Appended to the app when ``FLEET_PROFILE`` names a directory: each forked
#: worker runs under cProfile and counts what it sends to the server, and
#: writes both there when it ends (multiprocessing's finalizers run in a
#: worker, which ends without atexit hooks; its registry is cleared after
#: the fork, so the finalizer is registered by an after-fork hook).
PROFILE_HOOK = """

if os.environ.get("FLEET_PROFILE"):
    import collections
    import cProfile
    import json
    import multiprocessing.util

    import psycopg

    class _Profiled:
        pass

    _profiled = _Profiled()

    def _count(counts, name, original):
        def counting(self, query, *arguments, **keywords):
            shown = query if isinstance(query, str) else repr(query)
            counts[name + " " + " ".join(shown.split()[:3])] += 1
            return original(self, query, *arguments, **keywords)

        return counting

    def _in_worker(_):
        directory = os.environ["FLEET_PROFILE"]
        counts = collections.Counter()
        psycopg.Cursor.execute = _count(counts, "execute", psycopg.Cursor.execute)
        psycopg.Cursor.executemany = _count(
            counts, "executemany", psycopg.Cursor.executemany
        )
        for method in ("commit", "rollback"):
            original = getattr(psycopg.Connection, method)

            def counted(self, _original=original, _method=method):
                counts[_method] += 1
                return _original(self)

            setattr(psycopg.Connection, method, counted)
        profiler = cProfile.Profile()

        def dump():
            profiler.disable()
            stem = os.path.join(directory, f"worker-{os.getpid()}")
            profiler.dump_stats(stem + ".prof")
            with open(stem + ".json", "w") as out:
                json.dump(dict(counts), out, indent=1, sort_keys=True)

        multiprocessing.util.Finalize(None, dump, exitpriority=100)
        profiler.enable()

    multiprocessing.util.register_after_fork(_profiled, _in_worker)
"""

REVISION = """
import sqlalchemy as sa
from alembic import op

revision = "r{number:02d}"
down_revision = {down!r}
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "t{number}",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(50), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
    )


def downgrade():
    op.drop_table("t{number}")
"""


@contextmanager
def fresh_database(server: str) -> Iterator[str]:
    """A new empty database on the server; its URL. Dropped afterwards."""
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    name = f"bench_fleet_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


def make_project(root: Path) -> None:
    profiled = PROFILE_HOOK if os.environ.get("FLEET_PROFILE") else ""
    (root / "fleetapp.py").write_text(textwrap.dedent(APP) + profiled)
    subprocess.run(
        [BIN / "alembic", "init", "-t", "flask", "migrations"],
        cwd=root,
        check=True,
        capture_output=True,
    )
    ini = root / "alembic.ini"
    ini.write_text(
        ini.read_text().replace(
            "\nflask_app =\n",
            "\nflask_app = fleetapp:create_app\nflask_tenants = fleetapp:tenants\n",
            1,
        )
    )
    versions = root / "migrations" / "versions"
    for number in range(1, REVISIONS + 1):
        down = f"r{number - 1:02d}" if number > 1 else None
        (versions / f"r{number:02d}.py").write_text(
            REVISION.format(number=number, down=down)
        )


def run_alembic(root: Path, url: str, tenants: int, *arguments: str) -> float:
    """Seconds one ``alembic`` command took."""
    environment = {
        **os.environ,
        "FLEET_DATABASE_URI": url,
        "FLEET_TENANTS": str(tenants),
        "FLASK_SKIP_DOTENV": "1",
    }
    started = time.perf_counter()
    subprocess.run(
        [BIN / "alembic", *arguments],
        cwd=root,
        env=environment,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def create_schemas(url: str, tenants: int) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        for number in range(tenants):
            connection.execute(text(f'CREATE SCHEMA "t{number:05d}"'))
    engine.dispose()


def verify(url: str, tenants: int) -> None:
    """Every tenant has the ten tables (and nothing reached public)."""
    engine = create_engine(url)
    with engine.connect() as connection:
        counts = connection.execute(
            text(
                "SELECT table_schema, count(*) FROM information_schema.tables"
                " WHERE table_name ~ '^t[0-9]+$' GROUP BY table_schema"
            )
        ).all()
    engine.dispose()
    complete = [schema for schema, count in counts if count == REVISIONS]
    if len(complete) != tenants or any(schema == "public" for schema, _ in counts):
        raise SystemExit(f"only {len(complete)} of {tenants} tenants were migrated")


def largest_child_rss_kb() -> int:
    """The largest resident set of any process waited for so far (Linux
    reports kilobytes).
    """
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss


def ours(server: str, root: Path, tenants: int, jobs: int) -> dict[str, float]:
    with fresh_database(server) as url:
        create_schemas(url, tenants)  # as the peer's are: not timed
        seconds = run_alembic(
            root, url, tenants, "-x", f"tenant_jobs={jobs}", "upgrade", "head"
        )
        verify(url, tenants)
    return {"seconds": seconds, "load": round(os.getloadavg()[0], 2)}


def shell_loop(server: str, root: Path, tenants: int, sample: int) -> dict[str, float]:
    timed = sample or tenants
    with fresh_database(server) as url:
        create_schemas(url, tenants)
        started = time.perf_counter()
        for number in range(timed):
            run_alembic(
                root, url, tenants, "-x", f"tenants=t{number:05d}", "upgrade", "head"
            )
        seconds = time.perf_counter() - started
    return {
        "seconds": seconds * tenants / timed,
        "timed_tenants": timed,
        "load": round(os.getloadavg()[0], 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get(URL_VARIABLE))
    parser.add_argument("--tenants", type=int, default=500)
    parser.add_argument("--jobs", type=int, default=4)
    parser.add_argument("--shell-sample", type=int, default=0)
    parser.add_argument("--scale", type=int, default=0)
    parser.add_argument("--peer", action="store_true")
    options = parser.parse_args()
    if not options.url:
        parser.error(f"give --url or set {URL_VARIABLE} (.ci/start-postgresql)")

    results: dict[str, dict[str, float]] = {}
    print("load averages before: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        make_project(root)
        _measured(results, "ours, 1 job", ours(options.url, root, options.tenants, 1))
        _measured(
            results,
            f"ours, {options.jobs} jobs",
            ours(options.url, root, options.tenants, options.jobs),
        )
        _measured(
            results,
            "shell loop",
            shell_loop(options.url, root, options.tenants, options.shell_sample),
        )
    if options.peer:
        # Right after ours, before the long runs: on a shared machine the
        # load changes within minutes.
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import django_tenants_peer  # type: ignore[import-not-found,unused-ignore]

        peer = django_tenants_peer.run(options.url, options.tenants, options.jobs)
        _measured(
            results,
            f"django-tenants, {options.jobs} processes",
            {"seconds": float(peer["seconds"]), "load": round(os.getloadavg()[0], 2)},
        )
    if options.scale:
        # RUSAGE_CHILDREN keeps the largest process so far: each size is
        # measured in a process of its own.
        for tenants in (options.tenants, options.scale):
            _measured(
                results,
                f"ours, {options.jobs} jobs, {tenants} tenants",
                _memory_run(options.url, tenants, options.jobs),
            )
    print("load averages after: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    return report(results, options)


def _measured(
    results: dict[str, dict[str, float]], name: str, values: dict[str, float]
) -> None:
    """Keep and show one result at once (a long run killed keeps them)."""
    results[name] = values
    print(f"  measured: {name}: {values}", flush=True)


def _memory_run(url: str, tenants: int, jobs: int) -> dict[str, float]:
    # The URL goes in the environment: a command line is visible to all.
    measured = subprocess.run(
        [sys.executable, __file__, "--jobs", str(jobs), "--memory-of", str(tenants)],
        env={**os.environ, URL_VARIABLE: url},
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, float] = json.loads(measured.stdout)
    return result


def report(results: dict[str, dict[str, float]], options: argparse.Namespace) -> int:
    print(f"{options.tenants} schemas x {REVISIONS} revisions, PostgreSQL")
    for name, values in results.items():
        extra = ", ".join(
            f"{key} {value:g}" for key, value in values.items() if key != "seconds"
        )
        print(f"  {name:<36} {values['seconds']:8.1f} s  {extra}")
    fast = results[f"ours, {options.jobs} jobs"]["seconds"]
    missed = []
    speedup = results["shell loop"]["seconds"] / fast
    print(
        f"  shell loop / ours ({options.jobs} jobs): {speedup:.1f}x"
        f" (target >= {SHELL_SPEEDUP_TARGET:g}x)"
    )
    if speedup < SHELL_SPEEDUP_TARGET:
        missed.append("shell loop")
    peer = results.get(f"django-tenants, {options.jobs} processes")
    if peer is not None:
        ratio = peer["seconds"] / fast
        print(
            f"  django-tenants / ours: {ratio:.2f}x"
            f" (target >= {PEER_SPEEDUP_TARGET:g}x)"
        )
        if ratio < PEER_SPEEDUP_TARGET:
            missed.append("django-tenants")
    if options.scale:
        scaled = results[f"ours, {options.jobs} jobs, {options.scale} tenants"]
        per_tenant = scaled["seconds"] / options.scale
        print(
            f"  {options.scale} tenants: {scaled['seconds']:.1f} s,"
            f" {per_tenant * 1000:.1f} ms a tenant"
            f" (target < {SCALE_SECONDS_PER_TENANT_TARGET * 1000:g} ms)"
        )
        if per_tenant >= SCALE_SECONDS_PER_TENANT_TARGET:
            missed.append("scale")
        small, large = (
            results[f"ours, {options.jobs} jobs, {tenants} tenants"]["max_rss_kb"]
            for tenants in (options.tenants, options.scale)
        )
        growth = large / small
        print(
            f"  largest process, {options.scale} / {options.tenants} tenants:"
            f" {growth:.2f}x (target <= {MEMORY_GROWTH_TARGET:g}x)"
        )
        if growth > MEMORY_GROWTH_TARGET:
            missed.append("memory")
    if missed:
        print(f"missed: {', '.join(missed)}")
        return 1
    return 0


def memory_of(server: str, tenants: int, jobs: int) -> None:
    """(e), in a process of its own: print its time and largest process."""
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        make_project(root)
        result = ours(server, root, tenants, jobs)
    result["max_rss_kb"] = largest_child_rss_kb()
    print(json.dumps(result))


if __name__ == "__main__":
    if "--memory-of" in sys.argv:
        arguments = argparse.ArgumentParser()
        arguments.add_argument("--memory-of", type=int)
        arguments.add_argument("--jobs", type=int)
        given = arguments.parse_args()
        memory_of(os.environ[URL_VARIABLE], given.memory_of, given.jobs)
        sys.exit(0)
    sys.exit(main())
