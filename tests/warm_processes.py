"""The client of ``tests/warm_server.py``: run a console script of the
tests' environment (``alembic``, ``flask``) or ``python -m MODULE`` in a
process forked from a server that has already imported the libraries, and
return what :func:`subprocess.run` would have.

A request goes to a fresh process instead (:func:`can_start_warm` says
no) when the command is anything else (``python -c``, ``taskset``,
``opentelemetry-instrument``) or when its environment differs from the
server's in a variable the interpreter or the preloaded libraries read at
start-up. ``ALEMBIC_FLASK_ENV_TEST_FRESH_PROCESSES=1`` starts every
process fresh (the ``py3xx`` tox environments set it, so CI runs the
end-to-end files whose outcome depends on the Python both ways).
"""

from __future__ import annotations

import atexit
import json
import locale
import os
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path

SERVER = Path(__file__).resolve().parent / "warm_server.py"
BIN_DIR = Path(sys.executable).parent
FRESH_VARIABLE = "ALEMBIC_FLASK_ENV_TEST_FRESH_PROCESSES"
#: Variables read when an interpreter, or a preloaded library, starts.
STARTUP_PREFIXES = ("PYTHON", "COVERAGE", "SQLALCHEMY", "DISABLE_SQLALCHEMY", "LC_")
STARTUP_VARIABLES = ("LANG",)


def _startup_part(env: Mapping[str, str]) -> dict[str, str]:
    return {
        key: value
        for key, value in env.items()
        if key.startswith(STARTUP_PREFIXES) or key in STARTUP_VARIABLES
    }


def _our_script(path: str) -> bool:
    """A console script of this environment's Python (pip's wrapper)."""
    script = Path(path)
    if script.parent != BIN_DIR or not script.is_file():
        return False
    with script.open("rb") as file:
        first_line = file.readline()
    if not first_line.startswith(b"#!"):
        return False
    interpreter = Path(os.fsdecode(first_line[2:].strip()))
    return interpreter.parent == BIN_DIR and os.path.samefile(
        interpreter, sys.executable
    )


class WarmServer:
    """One server per test process, started at its first request."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.startup = _startup_part(env)
        self.directory = tempfile.mkdtemp(prefix="afe-warm-")
        self.path = os.path.join(self.directory, "socket")
        self.process = subprocess.Popen(
            [sys.executable, str(SERVER), self.path],
            env=dict(env),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=self.directory,
        )
        assert self.process.stdout is not None
        if self.process.stdout.readline() != b"ready\n":
            raise RuntimeError(f"{SERVER} did not start")
        atexit.register(self.stop)

    def stop(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=30)

    def accepts(self, args: Sequence[str], env: Mapping[str, str]) -> bool:
        return self.process.poll() is None and _startup_part(env) == self.startup

    def run(
        self,
        args: Sequence[str],
        cwd: Path,
        env: Mapping[str, str],
        timeout: float,
    ) -> subprocess.CompletedProcess[str]:
        request: dict[str, object] = {"cwd": str(cwd), "env": dict(env)}
        if args[0] == sys.executable:
            request["module"] = args[2]
            request["argv"] = list(args[3:])
        else:
            request["argv"] = list(args)
        message = json.dumps(request).encode()
        stdout_read, stdout_write = os.pipe()
        stderr_read, stderr_write = os.pipe()
        stdin = os.open(os.devnull, os.O_RDONLY)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            connection.connect(self.path)
            connection.sendall(len(message).to_bytes(4, "big"))
            socket.send_fds(connection, [message], [stdin, stdout_write, stderr_write])
            for fd in (stdin, stdout_write, stderr_write):
                os.close(fd)
            answers = connection.makefile("rb")
            pid = int(answers.readline())
            deadline = time.monotonic() + timeout
            stdout, stderr = _read_until_closed(stdout_read, stderr_read, deadline, pid)
            connection.settimeout(max(deadline - time.monotonic(), 1))
            returncode = int(answers.readline())
        return subprocess.CompletedProcess(
            list(args), returncode, _as_text(stdout), _as_text(stderr)
        )


def _as_text(data: bytes) -> str:
    """As ``text=True`` decodes: the locale's encoding, universal newlines."""
    text = data.decode(locale.getpreferredencoding(False))
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _read_until_closed(
    stdout: int, stderr: int, deadline: float, pid: int
) -> tuple[bytes, bytes]:
    """Both streams to their end, as ``communicate`` reads them."""
    chunks: dict[int, list[bytes]] = {stdout: [], stderr: []}
    with selectors.DefaultSelector() as selector:
        for fd in chunks:
            selector.register(fd, selectors.EVENT_READ)
        while selector.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                os.kill(pid, signal.SIGKILL)
                raise subprocess.TimeoutExpired(str(pid), 0)
            for key, _ in selector.select(remaining):
                data = os.read(key.fd, 65536)
                if data:
                    chunks[key.fd].append(data)
                else:
                    selector.unregister(key.fd)
                    os.close(key.fd)
    return b"".join(chunks[stdout]), b"".join(chunks[stderr])


_server: WarmServer | None = None
_starting = threading.Lock()


def can_start_warm(args: Sequence[str]) -> bool:
    """A console script of this Python, or ``python -m MODULE``."""
    if os.environ.get(FRESH_VARIABLE) == "1" or not args:
        return False
    if args[0] == sys.executable:
        return len(args) >= 3 and args[1] == "-m"
    return _our_script(args[0])


def run(
    args: Sequence[str],
    cwd: Path,
    env: Mapping[str, str],
    server_env: Mapping[str, str],
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """What ``subprocess.run(args, cwd=cwd, env=env, capture_output=True,
    text=True, timeout=timeout)`` returns, from a warm process when it can
    be (the server is started with ``server_env``, a project's default
    environment), or from a fresh one.
    """
    global _server
    if can_start_warm(args):
        with _starting:
            if _server is None:
                _server = WarmServer(server_env)
        if _server.accepts(args, env):
            return _server.run(args, cwd, env, timeout)
    return subprocess.run(
        list(args),
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
