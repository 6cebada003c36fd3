"""Many tenants in one run, a SQLite database per tenant: every command,
the selection, shards, the failure modes, the canary, the report, and the
errors for a tenants callable that cannot be used.

The PostgreSQL shapes (a schema per tenant) are in test_tenants_postgresql.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from contextlib import closing

import pytest

from harness import ALEMBIC
from harness import Project
from harness import ProjectFactory
from harness import package_command
from harness import write_revision

NAMES = ["acme", "beta", "gamma", "delta"]
#: Every test here but the one of parallel workers (whose forking is what
#: differs between Pythons) runs in the coverage and min environments only.
slow = pytest.mark.slow


@pytest.fixture
def fleet(project_factory: ProjectFactory) -> Project:
    """The blog with a SQLite database per tenant, under instance/, and three
    revisions that each record themselves in a ``runs`` table.
    """
    project = project_factory(
        "blog",
        template="flask",
        flask_app="blogapp:create_app",
        flask_tenants="tenancy:databases",
    )
    (project.root / "instance").mkdir(exist_ok=True)
    project.env["BLOG_TENANTS"] = ",".join(NAMES)
    project.env["BLOG_TENANT_DIR"] = str(project.root / "instance")
    write_revisions(project)
    return project


def write_revisions(project: Project) -> None:
    write_revision(
        project,
        "r1",
        None,
        """
        op.execute("CREATE TABLE runs (revision varchar(8))")
        op.execute("INSERT INTO runs VALUES ('r1')")
        """,
    )
    write_revision(
        project,
        "r2",
        "r1",
        """
        op.execute("CREATE TABLE clash (id int)")
        op.execute("INSERT INTO runs VALUES ('r2')")
        """,
    )
    write_revision(
        project, "r3", "r2", "op.execute(\"INSERT INTO runs VALUES ('r3')\")"
    )


#: What each revision of write_revisions does, for migrated().
REVISION_SQL = {
    "r1": ["CREATE TABLE runs (revision varchar(8))", "INSERT INTO runs VALUES ('r1')"],
    "r2": ["CREATE TABLE clash (id int)", "INSERT INTO runs VALUES ('r2')"],
    "r3": ["INSERT INTO runs VALUES ('r3')"],
}


def migrated(project: Project, tenant: str, revision: str) -> None:
    """The tenant's database as an upgrade to ``revision`` leaves it (the
    revisions' statements and alembic_version), made in process: the start
    state of a test about another command, without an ``alembic`` run.
    """
    steps = list(REVISION_SQL)[: list(REVISION_SQL).index(revision) + 1]
    with closing(sqlite3.connect(project.database(f"{tenant}.db"))) as connection:
        for step in steps:
            for statement in REVISION_SQL[step]:
                connection.execute(statement)
        connection.execute(
            "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL,"
            " CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
        )
        connection.execute("INSERT INTO alembic_version VALUES (?)", (revision,))
        connection.commit()


def runs(project: Project, tenant: str) -> list[str]:
    return [str(row[0]) for row in project.query(f"{tenant}.db", "SELECT * FROM runs")]


def break_tenant(project: Project, tenant: str) -> None:
    """Give the tenant a table that r2 creates, so that r2 fails there."""
    with closing(sqlite3.connect(project.database(f"{tenant}.db"))) as connection:
        connection.execute("CREATE TABLE clash (id int)")
        connection.commit()


def test_upgrade_migrates_every_tenant_in_parallel_and_reports(fleet: Project) -> None:
    result = fleet.alembic(
        "-x", "tenant_jobs=2", "-x", "tenant_report=report.json", "upgrade", "head"
    )
    for name in NAMES:
        assert runs(fleet, name) == ["r1", "r2", "r3"]
        assert fleet.version(f"{name}.db") == ["r3"]
    assert not fleet.database("default.db").exists()
    log = result.stderr
    assert "Flask app 'blogapp', 4 tenants" in log
    for count in range(1, 5):
        assert f"[{count}/4] " in log
    assert ": <base> -> r3 in " in log
    assert (
        "Tenants: 4 migrated, 0 already there, 0 failed, 0 skipped, in" in log
        and "(2 jobs)." in log
    )
    report = json.loads((fleet.root / "report.json").read_text())
    assert sorted(entry["tenant"] for entry in report) == sorted(NAMES)
    assert {
        (entry["status"], entry["from"], entry["to"], entry["error"])
        for entry in report
    } == {("migrated", "", "r3", None)}
    assert all(isinstance(entry["seconds"], float) for entry in report)

    # Run again: every tenant is already there, and says so.
    again = fleet.alembic("upgrade", "head").stderr
    assert "at r3, nothing to do" in again
    assert "Tenants: 0 migrated, 4 already there, 0 failed, 0 skipped" in again
    assert all(runs(fleet, name) == ["r1", "r2", "r3"] for name in NAMES)


@slow
def test_current_check_downgrade_and_stamp_per_tenant(fleet: Project) -> None:
    for name in NAMES:
        migrated(fleet, name, "r3" if name == "acme" else "r1")
    current = fleet.alembic("current").stdout.splitlines()
    assert current == [
        "acme: r3 (head)",
        "beta: r1",
        "gamma: r1",
        "delta: r1",
    ]
    fleet.alembic("downgrade", "-1")
    assert fleet.version("acme.db") == ["r2"]
    assert fleet.version("beta.db") == []
    fleet.alembic("stamp", "r3")
    assert all(fleet.version(f"{name}.db") == ["r3"] for name in NAMES)


@slow
def test_check_names_the_tenants_that_differ(fleet: Project) -> None:
    for name in NAMES:
        migrated(fleet, name, "r3")
    # The models (user, post) are in no tenant: all four differ.
    message = fleet.failure("check")
    assert message.startswith(
        "The models differ from 4 of 4 tenants: 'acme', 'beta', 'gamma', 'delta'."
    )
    # After a revision that adds them, upgraded in acme only.
    output = fleet.output(
        fleet.alembic("-x", "tenants=acme", "revision", "--autogenerate", "-m", "m")
    )
    assert "Detected added table 'user'" in output
    assert "compared the models with tenant 'acme' only" not in output
    fleet.alembic("-x", "tenants=acme", "upgrade", "head")
    assert fleet.failure("check").startswith(
        "3 of 4 tenants are not at head: 'beta', 'gamma', 'delta'."
    )
    for name in NAMES[1:]:  # the others at head too: acme's database, copied
        shutil.copyfile(fleet.database("acme.db"), fleet.database(f"{name}.db"))
    assert "No new upgrade operations detected." in fleet.alembic("check").stdout
    with closing(sqlite3.connect(fleet.database("gamma.db"))) as connection:
        connection.execute("DROP TABLE post")  # drift in one tenant
    assert fleet.failure("check") == (
        "The models differ from 1 of 4 tenants: 'gamma'. Write a revision for"
        " the change ('alembic revision --autogenerate') and upgrade."
    )


@slow
def test_autogenerate_compares_with_the_first_tenant(fleet: Project) -> None:
    migrated(fleet, "acme", "r3")
    output = fleet.output(fleet.alembic("revision", "--autogenerate", "-m", "models"))
    assert "revision compared the models with tenant 'acme' only (of 4)." in output
    [written] = [path for path in fleet.revision_files() if "models" in path.name]
    source = written.read_text()
    assert "op.create_table('user'" in source
    assert "schema=" not in source


@slow
def test_selection_picks_tenants_and_refuses_unknown_names(fleet: Project) -> None:
    fleet.alembic("-x", "tenants=gamma, beta", "upgrade", "head")
    assert fleet.version("beta.db") == ["r3"]
    assert fleet.version("gamma.db") == ["r3"]
    assert not fleet.database("acme.db").exists()
    message = fleet.failure("-x", "tenants=acme,omega", "upgrade", "head")
    assert message == (
        "tenants = 'acme,omega' (from -x tenants=...) names 'omega', which the"
        " tenants callable did not list (it listed acme, beta, gamma, delta)."
        " Set tenants to some of those, separated by commas."
    )
    assert not fleet.database("acme.db").exists()


@slow
def test_shards_together_cover_every_tenant_once(fleet: Project) -> None:
    names = [f"t{number:02d}" for number in range(12)]
    fleet.env["BLOG_TENANTS"] = ",".join(names)
    migrated: list[str] = []
    for index in range(3):
        fleet.env["JOB_COMPLETION_INDEX"] = str(index)
        shard = f"{index}/3" if index < 2 else "3"  # the last from Kubernetes'
        fleet.alembic(
            "-x", f"tenant_shard={shard}", "-x", f"tenant_report=r{index}.json",
            "upgrade", "head",
        )  # fmt: skip
        report = json.loads((fleet.root / f"r{index}.json").read_text())
        assert report, f"shard {index} had no tenant"
        migrated += [entry["tenant"] for entry in report]
    assert sorted(migrated) == names
    assert all(fleet.version(f"{name}.db") == ["r3"] for name in names)


@slow
def test_a_failing_tenant_stops_new_ones(fleet: Project) -> None:
    migrated(fleet, "beta", "r1")
    break_tenant(fleet, "beta")
    result = fleet.alembic(
        "-x", "tenant_jobs=1", "-x", "tenant_report=report.json",
        "upgrade", "head", ok=False,
    )  # fmt: skip
    [line] = [x for x in result.stdout.splitlines() if x.startswith("FAILED:")]
    assert line.startswith(
        "FAILED: 1 of 4 tenants failed: 'beta': table clash already exists."
    )
    assert "run the same command again" in line
    assert "[2/4] beta: failed after" in result.stderr
    assert "Traceback" in result.stderr  # the database's error, in full
    assert "Tenants: 1 migrated, 0 already there, 1 failed, 2 skipped" in (
        result.stderr
    )
    assert runs(fleet, "acme") == ["r1", "r2", "r3"]
    assert runs(fleet, "beta") == ["r1"]
    assert not fleet.database("gamma.db").exists()
    report = {entry["tenant"]: entry for entry in _report(fleet)}
    assert report["beta"]["status"] == "failed"
    assert report["beta"]["from"] == report["beta"]["to"] == "r1"
    assert "clash already exists" in str(report["beta"]["error"])
    assert report["gamma"]["status"] == report["delta"]["status"] == "skipped"


@slow
def test_continue_migrates_every_tenant_that_can_be(fleet: Project) -> None:
    break_tenant(fleet, "beta")
    result = fleet.alembic(
        "-x", "tenant_failures=continue", "-x", "tenant_jobs=2", "upgrade", "head",
        ok=False,
    )  # fmt: skip
    assert "1 of 4 tenants failed: 'beta'" in result.stdout
    assert "Tenants: 3 migrated, 0 already there, 1 failed, 0 skipped" in (
        result.stderr
    )
    for name in ("acme", "gamma", "delta"):
        assert runs(fleet, name) == ["r1", "r2", "r3"]


@slow
def test_a_failing_canary_stops_the_run(fleet: Project) -> None:
    break_tenant(fleet, "acme")
    result = fleet.alembic(
        "-x", "tenant_canary=1", "-x", "tenant_failures=continue",
        "upgrade", "head", ok=False,
    )  # fmt: skip
    assert "Canary tenant 'acme' failed: no other tenant was started" in (result.stderr)
    assert all(not fleet.database(f"{name}.db").exists() for name in NAMES[1:])
    # A canary that passes lets the others go on.
    fleet.env["BLOG_TENANTS"] = "beta,gamma,delta"
    fleet.alembic("-x", "tenant_canary=2", "upgrade", "head")
    assert all(fleet.version(f"{name}.db") == ["r3"] for name in NAMES[1:])


@slow
def test_no_tenant_is_said(fleet: Project) -> None:
    fleet.env["BLOG_TENANTS"] = ""
    result = fleet.alembic("upgrade", "head")
    assert (
        "flask_tenants = 'tenancy:databases' (from [alembic] in alembic.ini)"
        " listed no tenant; nothing was migrated." in result.stderr
    )


def _report(project: Project) -> list[dict[str, object]]:
    report: list[dict[str, object]] = json.loads(
        (project.root / "report.json").read_text()
    )
    return report


@slow
@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "tenancy:missing",
            "flask_tenants = 'tenancy:missing' (from -x flask_tenants=...):"
            " 'missing' was not found in module 'tenancy'. Name a callable that"
            " returns the tenants, for example flask_tenants ="
            " yourpackage.tenancy:tenants.",
        ),
        (
            "tenancy:schemas",
            "flask_tenants = 'tenancy:schemas' (from -x flask_tenants=...)"
            " returned schema names, but a schema per tenant needs PostgreSQL and"
            " the app's database is sqlite. Return a mapping of tenant name to"
            " database URL instead, a database per tenant; nothing was touched.",
        ),
    ],
)
def test_a_tenants_callable_that_cannot_be_used(
    fleet: Project, value: str, message: str
) -> None:
    """One callable list_tenants refuses, and the schema names a SQLite app
    cannot take (refused after the listing). The other refusals of
    list_tenants, in process: tests/unit/test_tenant_refusals.py.
    """
    assert fleet.failure("-x", f"flask_tenants={value}", "upgrade", "head") == message
    assert list((fleet.root / "instance").iterdir()) == []


def test_current_names_a_tenant_it_cannot_read_and_shows_the_others(
    fleet: Project,
) -> None:
    for name in NAMES:
        migrated(fleet, name, "r3")
    with closing(sqlite3.connect(fleet.database("beta.db"))) as connection:
        connection.execute("UPDATE alembic_version SET version_num = 'zzz'")
        connection.commit()
    result = fleet.alembic("current", ok=False)
    assert result.stdout.splitlines()[:3] == [
        "acme: r3 (head)",
        "gamma: r3 (head)",
        "delta: r3 (head)",
    ]
    assert result.stdout.splitlines()[3:] == [
        "FAILED: 1 of 4 tenants could not be read: 'beta': Can't locate revision"
        " identified by 'zzz'. The other tenants are shown above. Fix the cause"
        " (for a revision the scripts lack: deploy the code that has it, or run"
        " 'alembic -x tenants=NAME stamp --purge REVISION') and run again."
    ]
    assert "Tenant 'beta': Can't locate revision identified by 'zzz'" in (result.stderr)
    assert "Traceback" not in result.stderr
    # check too tells every tenant it can read, and names the one it cannot.
    message = fleet.failure("check")
    assert message.startswith(
        "1 of 4 tenants could not be read: 'beta': Can't locate revision"
    )
    assert "The models differ from 3 of 4 tenants: 'acme', 'gamma', 'delta'." in (
        message
    )


def test_a_generator_that_raises_midway_touches_nothing(fleet: Project) -> None:
    """The names a generator yielded before it raised are not migrated:
    the list is incomplete, and the run says so in one line.
    """
    result = fleet.alembic(
        "-x", "flask_tenants=tenancy:failing_midway", "upgrade", "head", ok=False
    )
    assert result.stdout.strip() == (
        "FAILED: flask_tenants = 'tenancy:failing_midway' (from -x"
        " flask_tenants=...) raised ConnectionError: the control table went away"
        " while its tenants were read (its traceback is above); no tenant was"
        " touched. Fix the callable and run again."
    )
    assert 'tenancy.py", line' in result.stderr
    assert "ConnectionError: the control table went away" in result.stderr
    assert list((fleet.root / "instance").iterdir()) == []


def test_a_tenant_url_whose_driver_is_not_installed(fleet: Project) -> None:
    """mysqlclient (MySQLdb) is installed in no test environment: one line
    per tenant naming the driver and the package, the password masked.
    """
    fleet.env["BLOG_TENANT_SERVER"] = "mysql+mysqldb://u:s3cret@127.0.0.1:9/fleet"
    result = fleet.alembic("upgrade", "head", ok=False)
    output = fleet.output(result)
    assert "s3cret" not in output
    assert "Traceback" not in output
    assert (
        "'acme': The database URL mysql+mysqldb://***@127.0.0.1:9/fleet_acme"
        " needs the mysql+mysqldb driver, whose module 'MySQLdb' is not installed"
        in output
    ), output
    assert "-m pip install 'mysqlclient'" in output


@slow
@pytest.mark.parametrize(
    ("argument", "message"),
    [
        (
            "tenant_jobs=0",
            "tenant_jobs = '0' (from -x tenant_jobs=...) is no number of worker"
            " processes. Set tenant_jobs to 1 or more, for example tenant_jobs ="
            " 4 (1: one tenant at a time, in this process), or leave it unset for"
            " one per CPU.",
        ),
        (
            "tenants=,",
            "tenants = ',' (from -x tenants=...) names no tenant. Set tenants to"
            " tenant names separated by commas, or leave it unset for all.",
        ),
    ],
)
def test_bad_tenant_settings_fail_before_any_tenant(
    fleet: Project, argument: str, message: str
) -> None:
    """One value read_tenant_settings refuses, and a selection that
    select_tenants refuses (after the listing). The other values of
    read_tenant_settings, in process: tests/unit/test_tenant_refusals.py.
    """
    assert fleet.failure("-x", argument, "upgrade", "head") == message
    assert list((fleet.root / "instance").iterdir()) == []


@slow
def test_a_tenant_key_of_the_wrong_toml_type(fleet: Project) -> None:
    (fleet.root / "pyproject.toml").write_text("[tool.alembic]\ntenant_jobs = true\n")
    assert fleet.failure("upgrade", "head") == (
        "tenant_jobs = True (from [tool.alembic] in pyproject.toml) is a boolean,"
        " which tenant_jobs cannot be. It takes a string or an integer, for"
        " example tenant_jobs = 4."
    )
    assert list((fleet.root / "instance").iterdir()) == []


@slow
def test_tenant_keys_in_pyproject(fleet: Project) -> None:
    (fleet.root / "pyproject.toml").write_text(
        '[tool.alembic]\ntenants = ["beta"]\ntenant_jobs = 1\ntenant_canary = 1\n'
    )
    fleet.alembic("upgrade", "head")
    assert fleet.version("beta.db") == ["r3"]
    assert not fleet.database("acme.db").exists()


@slow
def test_the_multidb_template_refuses_tenants(multiblog: Project) -> None:
    message = multiblog.failure(
        "-x", "flask_tenants=tenancy:databases", "upgrade", "head"
    )
    assert message == (
        "flask_tenants = 'tenancy:databases' (from -x flask_tenants=...) is set,"
        " but the flask-multidb environment migrates the app's binds, not"
        " tenants. Use the flask (or flask-pyproject) template for tenants, or"
        " remove flask_tenants."
    )


@slow
def test_the_ledger_command_reads_each_tenant(fleet: Project) -> None:
    fleet.alembic("-x", "tenants=acme,beta", "upgrade", "head")
    code, output = package_command(fleet, "ledger", "-n", "1")
    assert code == 0, output
    acme, beta, gamma, delta = output.strip().split("\n\n")
    assert "(tenant 'acme'): " in acme
    assert "alembic -x tenants=acme,beta upgrade head" in acme
    assert "  upgrade r2 -> r3  applied in " in acme
    assert "(tenant 'beta')" in beta
    assert gamma == "No runs recorded (tenant 'gamma')."
    assert delta == "No runs recorded (tenant 'delta')."


@slow
def test_a_handed_in_connection_is_refused(fleet: Project) -> None:
    script = fleet.root / "script.py"
    script.write_text(
        "from alembic import command\n"
        "from sqlalchemy import create_engine\n"
        "from alembic_flask_env import alembic_config\n"
        "config = alembic_config()\n"
        "config.attributes['connection'] = create_engine('sqlite://')\n"
        "try:\n"
        "    command.upgrade(config, 'head')\n"
        "except Exception as error:\n"
        "    print(type(error).__name__, error)\n"
    )
    assert fleet.python(str(script)).stdout.strip() == (
        "ConnectionNotUsable config.attributes['connection'] is set, but"
        " flask_tenants = 'tenancy:databases' (from [alembic] in alembic.ini)"
        " migrates a schema or database per tenant and cannot use a single"
        " connection. Leave one of them unset."
    )


@slow
def test_a_version_table_schema_in_env_py_is_refused(fleet: Project) -> None:
    env = fleet.root / "migrations" / "env.py"
    env.write_text(
        env.read_text().replace(
            "run_migrations(", "run_migrations(version_table_schema='shared',", 1
        )
    )
    assert fleet.failure("upgrade", "head").startswith(
        "run_migrations(version_table_schema=...) in env.py would keep every"
        " tenant's version in one table"
    )


@slow
@pytest.mark.skipif(shutil.which("taskset") is None, reason="needs taskset")
def test_the_default_jobs_are_the_cpus_the_run_may_use(fleet: Project) -> None:
    """One CPU allowed (a container's cpuset), one job, however many CPUs
    the host has.
    """
    assert ALEMBIC is not None
    result = fleet.run("taskset", "-c", "0", ALEMBIC, "upgrade", "head")
    assert "Tenants: 4 migrated, 0 already there, 0 failed, 0 skipped" in (
        result.stderr
    )
    assert result.stderr.rstrip().endswith("(1 job).")
