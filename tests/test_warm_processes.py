"""The tests' warm processes (``tests/warm_server.py``) answer as fresh ones.

Most end-to-end tests start ``alembic`` forked from a server that has
imported the libraries already (``harness.Project.run``). What they assert
is only worth as much as that child behaves like the process a user
starts: same output, same exit code, same failure, plugins loaded from the
entry points by its own ``import alembic``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import warm_processes
from harness import ALEMBIC
from harness import Project
from harness import clean_environment

PROBE = """\
import os, sys
print(sorted(sys.argv[1:]), os.getcwd(), os.environ.get("PROBE_VALUE"))
print("sqlalchemy" in sys.modules, "alembic" in sys.modules)
print(os.getppid())
"""


def fresh(project: Project, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(args),
        cwd=project.root,
        env=project.env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_warm_child_has_the_requests_argv_directory_and_environment(
    blog: Project,
) -> None:
    server = warm_processes.WarmServer(clean_environment())
    try:
        (blog.root / "probe.py").write_text(PROBE)
        blog.env["PROBE_VALUE"] = "from the request"
        args = (sys.executable, "-m", "probe", "b", "a")
        warm = server.run(args, blog.root, blog.env, timeout=60)
        plain = fresh(blog, *args)
        assert warm.returncode == plain.returncode == 0
        assert warm.stderr == plain.stderr == ""
        argv_line, preloaded, parent = warm.stdout.splitlines()
        assert argv_line == plain.stdout.splitlines()[0]
        assert argv_line == f"['a', 'b'] {blog.root} from the request"
        # What tells the two apart: the libraries, never Alembic.
        assert preloaded == "True False"
        assert plain.stdout.splitlines()[1] == "False False"
        assert parent == str(server.process.pid)
    finally:
        server.stop()


def comparable(result: subprocess.CompletedProcess[str], root: Path) -> str:
    """Exit code and output, with the project's directory and the run's
    timings (which differ between two runs) taken out.
    """
    output = result.stdout + "\n--- stderr\n" + result.stderr
    output = re.sub(r"in \d+\.\d+ s\b", "in N s", output.replace(str(root), "ROOT"))
    return f"{result.returncode}\n{output}"


def test_alembic_answers_the_same_warm_and_fresh(blog: Project) -> None:
    """The same commands on two copies of a project, one warm, one fresh."""
    assert ALEMBIC is not None
    blog.alembic("revision", "--autogenerate", "-m", "init")
    twin = Project(blog.root.parent / "twin")
    shutil.copytree(blog.root, twin.root)
    server = warm_processes.WarmServer(clean_environment())
    try:
        for args in (
            ("list_templates",),
            ("upgrade", "head"),
            ("current", "-v"),
            ("upgrade", "nowhere"),
            ("downgrade", "base", "--sql"),
            ("check",),
        ):
            warm = server.run((ALEMBIC, *args), blog.root, blog.env, timeout=60)
            plain = fresh(twin, ALEMBIC, *args)
            assert comparable(warm, blog.root) == comparable(plain, twin.root)
    finally:
        server.stop()
    assert blog.version() == twin.version() != []


def test_an_error_in_the_app_keeps_its_traceback_warm(blog: Project) -> None:
    assert ALEMBIC is not None
    (blog.root / "blogapp" / "__init__.py").write_text(
        "def create_app():\n    raise ZeroDivisionError('in the app')\n"
    )
    server = warm_processes.WarmServer(clean_environment())
    try:
        warm = server.run((ALEMBIC, "current"), blog.root, blog.env, timeout=60)
    finally:
        server.stop()
    plain = fresh(blog, ALEMBIC, "current")
    assert warm.returncode == plain.returncode == 1
    for result in (warm, plain):
        assert "Traceback (most recent call last):" in result.stderr
        assert 'blogapp/__init__.py", line 2, in create_app' in result.stderr
        assert result.stderr.endswith("ZeroDivisionError: in the app\n")


def test_a_start_up_variable_sends_the_run_to_a_fresh_process(
    blog: Project,
) -> None:
    (blog.root / "probe.py").write_text(PROBE)
    blog.env["PYTHONHASHSEED"] = "1"
    result = blog.run(sys.executable, "-m", "probe")
    assert result.stdout.splitlines()[1] == "False False"
