"""Start the tests' ``alembic`` processes warm: forked from a Python that
has already imported SQLAlchemy, Flask and the other libraries, never
Alembic, this package or an app.

An ``alembic`` process spends about three quarters of its CPU importing
SQLAlchemy, Flask and Flask-SQLAlchemy before it does anything of ours, and
the suite starts hundreds of them on 2 cores. This server, started once per
test worker by ``tests/warm_processes.py`` (``python warm_server.py
SOCKET``), imports those libraries once and then forks a child for each
request. The child takes the request's standard streams, working directory,
environment and argv, and runs the console script (or ``-m`` module) the
way the interpreter would: ``import alembic`` still loads the plugins from
the entry points, the package and the app are imported fresh, and the
process ends through the interpreter's own exit (``atexit``, coverage.py's
data, a traceback for an uncaught error). Its exit status reaches the
client from ``waitpid``, so a signal is reported as ``subprocess`` would.

Only what a fresh process would have done identically is preloaded: the
client starts a fresh process whenever the request's environment differs
from the server's in a variable read at start-up (``PYTHON*``,
``COVERAGE*``, SQLAlchemy's, the locale).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import runpy
import select
import signal
import socket
import sys
from types import FrameType

#: The libraries an alembic run of the tests' apps imports before any code
#: of ours runs. Alembic is not among them: importing it loads the plugins
#: (ours too), which each child must do itself.
PRELOAD = (
    "sqlalchemy",
    "sqlalchemy.orm",
    "sqlalchemy.ext.declarative",
    "sqlalchemy.dialects.sqlite",
    "sqlalchemy.dialects.postgresql",
    "sqlalchemy.dialects.mysql",
    "flask",
    "flask.cli",
    "flask_sqlalchemy",
    "mako.template",
    "logging.config",
    "psycopg",
    "pymysql",
)


def preload() -> None:
    """Import what is installed of :data:`PRELOAD` (``min`` has fewer)."""
    for name in PRELOAD:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)


def receive(connection: socket.socket) -> tuple[dict[str, object], list[int]]:
    """One request: a JSON object and the three standard streams' fds."""
    size = int.from_bytes(connection.recv(4), "big")
    message, fds, _, _ = socket.recv_fds(connection, size, 3)
    while len(message) < size:
        message += connection.recv(size - len(message))
    return json.loads(message), fds


def become(request: dict[str, object], fds: list[int]) -> None:
    """In the child: take the request's streams, directory, environment and
    argv, then run its script or module; what it raises is the process's.
    """
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    cwd = request["cwd"]
    env = request["env"]
    argv = request["argv"]
    assert isinstance(cwd, str) and isinstance(env, dict) and isinstance(argv, list)
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    # A directory listed before the fork may have new files since.
    importlib.invalidate_caches()
    module = request.get("module")
    if isinstance(module, str):
        sys.argv = ["-m", *argv]
        sys.path[0] = os.getcwd()
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    else:
        script = argv[0]
        sys.argv = list(argv)
        sys.path[0] = os.path.dirname(os.path.abspath(script))
        runpy.run_path(script, run_name="__main__")


def serve(path: str) -> dict[str, object] | None:
    """Answer requests until the client closes our stdin. Returns the
    request to run in a forked child (which then leaves this loop), or
    None in the server when it is time to stop.
    """
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)

    def nothing(signum: int, frame: FrameType | None) -> None:
        """A handler, so that SIGCHLD writes to the wake-up fd."""

    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, nothing)
    print("ready", flush=True)
    waiting: dict[int, socket.socket] = {}
    while True:
        ready, _, _ = select.select([listener.fileno(), wake_read, 0], [], [])
        if 0 in ready and not os.read(0, 4096):
            return None
        if wake_read in ready:
            os.read(wake_read, 4096)
            reap(waiting)
        if listener.fileno() in ready:
            connection, _ = listener.accept()
            request, fds = receive(connection)
            pid = os.fork()
            if pid == 0:
                signal.set_wakeup_fd(-1)
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                for closing in (listener, connection):
                    closing.close()
                for fd in (wake_read, wake_write):
                    os.close(fd)
                for other in waiting.values():
                    other.close()
                become(request, fds)
                return request
            for fd in fds:
                os.close(fd)
            connection.sendall(f"{pid}\n".encode())
            waiting[pid] = connection


def reap(waiting: dict[int, socket.socket]) -> None:
    """Tell each client whose child has ended its exit code."""
    while waiting:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        connection = waiting.pop(pid, None)
        if connection is not None:
            code = os.waitstatus_to_exitcode(status)
            with contextlib.suppress(OSError):
                connection.sendall(f"{code}\n".encode())
            connection.close()


if __name__ == "__main__":
    preload()
    serve(sys.argv[1])
