"""A revision's operations, recorded instead of executed.

The revision's own ``upgrade()`` (or ``downgrade()``) runs with ``op``
bound to recording operations: every ``op.*`` call (batch ones too)
builds Alembic's operation object as it always does, and ``invoke()`` keeps
it instead of emitting SQL. So what a revision does is read from the
operations themselves, with their real arguments, never from its source
text. ``op.get_bind()`` is a stand-in connection (:mod:`.stand_in`): what a
revision may ask of it without the database (its dialect, its engine's
name and URL) it answers, and SQL sent through it is recorded like
``op.execute()``'s; a revision that needs the database's answer (rows, an
inspector) cannot be recorded past that point, which is said, not skipped
quietly. What revisions print while recorded goes to stderr: stdout is the
lint's report (or ``--sql``'s SQL).
"""

from __future__ import annotations

import io
import logging
import os
import sys
import threading
import traceback
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from contextlib import redirect_stdout
from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING
from typing import Any

from alembic.operations import BatchOperations
from alembic.operations import Operations
from alembic.operations import ops
from alembic.runtime.migration import MigrationContext

from ..url_masking import mask_secrets
from .stand_in import StandInConnection

if TYPE_CHECKING:
    from alembic.operations.ops import MigrateOperation
    from alembic.script import Script

log = logging.getLogger(__name__)
#: Where Alembic says which context it made ("Context impl ...",
#: "Generating static SQL", "Will assume transactional DDL.").
_CONTEXT_LOG = logging.getLogger("alembic.runtime.migration")


@dataclass
class Recorded:
    """One operation and where the revision called it."""

    operation: MigrateOperation
    line: int
    in_autocommit_block: bool


@dataclass
class Recording:
    revision: Script
    operations: list[Recorded] = field(default_factory=list)
    #: Why recording stopped early, if it did, and the revision's line
    #: where it stopped (0: unknown).
    stopped: str = ""
    stopped_line: int = 0
    _autocommit_depth: int = 0

    def add(self, operation: MigrateOperation) -> None:
        self.operations.append(
            Recorded(operation, self._caller_line(), self._autocommit_depth > 0)
        )

    def _caller_line(self) -> int:
        """The line of the revision file that made the current call."""
        path = os.path.realpath(self.revision.path)
        frame = sys._getframe(1)
        while frame is not None:
            if os.path.realpath(frame.f_code.co_filename) == path:
                return frame.f_lineno
            frame = frame.f_back  # type: ignore[assignment]
        return 0

    def stop(self, error: Exception) -> None:
        """Say why recording stopped, and at which line of the revision."""
        self.stopped = mask_secrets(f"{type(error).__name__}: {error}".splitlines()[0])
        path = os.path.realpath(self.revision.path)
        for frame in reversed(traceback.extract_tb(error.__traceback__)):
            if os.path.realpath(frame.filename) == path:
                self.stopped_line = frame.lineno or 0
                break


class _RecordingContext:
    """``op.get_context()`` while recording: the real (offline) migration
    context, but ``autocommit_block()`` only marks what runs inside it.
    """

    def __init__(
        self,
        context: MigrationContext,
        recording: Recording,
        connection: StandInConnection,
    ) -> None:
        self._context = context
        self._recording = recording
        # (op.get_context().bind is the same connection as op.get_bind().)
        self.bind = self.connection = connection

    @contextmanager
    def autocommit_block(self) -> Iterator[None]:
        self._recording._autocommit_depth += 1
        try:
            yield
        finally:
            self._recording._autocommit_depth -= 1

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)


class _TableOfBatch:
    """What a batch operation asks of its batch: the table it is for."""

    def __init__(self, table_name: str, schema: str | None) -> None:
        self.table_name = table_name
        self.schema = schema


class RecordingBatchOperations(BatchOperations):
    recording: Recording

    def invoke(self, operation: MigrateOperation) -> Any:
        self.recording.add(operation)
        return None


def _recording_operations(
    context: MigrationContext, recording: Recording
) -> Operations:
    """Alembic's own ``Operations``, with ``invoke``, ``get_context`` and
    ``batch_alter_table`` replaced on the instance: every ``op.*`` method
    builds its operation object and hands it to ``self.invoke``. (A
    subclass would not do: Alembic binds the ``op`` module to the class
    ``Operations`` itself.)
    """
    operations = Operations(context)
    connection = StandInConnection(context.dialect, recording.add)

    def invoke(operation: MigrateOperation) -> Any:
        if not type(operation).__module__.startswith("alembic."):
            return _plugin_operation(operations, context, operation, recording)
        recording.add(operation)
        return None

    def get_context() -> Any:
        return _RecordingContext(context, recording, connection)

    def get_bind() -> Any:
        return connection

    @contextmanager
    def batch_alter_table(
        table_name: str, schema: str | None = None, **options: Any
    ) -> Iterator[BatchOperations]:
        batch = RecordingBatchOperations(
            context,
            impl=_TableOfBatch(table_name, schema),  # type: ignore[arg-type]
        )
        batch.recording = recording
        yield batch

    for name, value in (
        ("invoke", invoke),
        ("get_context", get_context),
        ("get_bind", get_bind),
        ("batch_alter_table", batch_alter_table),
    ):
        setattr(operations, name, value)
    return operations


def _plugin_operation(
    operations: Operations,
    context: MigrationContext,
    operation: MigrateOperation,
    recording: Recording,
) -> Any:
    """An operation a plugin registered (``Operations.register_operation``,
    say an enum-sync helper's): its own implementation runs, on these
    recording operations, so the SQL it sends (``operations.execute()``, or
    straight to the offline context's output) is recorded and checked. One
    without an implementation is recorded as it is, and named unchecked.
    """
    try:
        implementation = Operations._to_impl.dispatch(
            operation, context.impl.__dialect__
        )
    except ValueError:
        recording.add(operation)
        return None
    buffer = context.impl.output_buffer
    start = buffer.tell() if buffer is not None else 0
    result = implementation(operations, operation)
    if buffer is not None and buffer.tell() > start:
        buffer.seek(start)
        sent = buffer.read()
        recording.add(ops.ExecuteSQLOp(sent))
    return result


class _AtDebug(logging.Filter):
    """Lowers to DEBUG what this thread logs: the recording context's
    lines are about the checks, not the run. At INFO, an online upgrade
    said "Generating static SQL" once per pending revision before its real
    run; the user's logging configuration is left as it is, and the lines
    still show with ``alembic.runtime.migration`` at DEBUG.
    """

    def __init__(self) -> None:
        super().__init__()
        # (Only this thread's: another may be running a migration meanwhile.)
        self._thread = threading.get_ident()

    def filter(self, record: logging.LogRecord) -> bool:
        if threading.get_ident() != self._thread:
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return _CONTEXT_LOG.isEnabledFor(logging.DEBUG)


@contextmanager
def _context_logged_at_debug() -> Iterator[None]:
    quieter = _AtDebug()
    _CONTEXT_LOG.addFilter(quieter)
    try:
        yield
    finally:
        _CONTEXT_LOG.removeFilter(quieter)


def _recording_context(dialect: str) -> MigrationContext:
    """The offline migration context a revision is recorded on: nothing
    it sends reaches a database, and making it logs at DEBUG only.
    """
    with _context_logged_at_debug():
        return MigrationContext.configure(
            dialect_name=dialect,
            opts={"as_sql": True, "output_buffer": io.StringIO()},
        )


def record(
    revision: Script, function: Callable[..., Any], dialect: str, **arguments: Any
) -> Recording:
    """Run ``function`` (the revision's upgrade or downgrade) with ``op``
    recording, on an offline context of ``dialect``; nothing reaches a
    database.
    """
    recording = Recording(revision)
    context = _recording_context(dialect)
    operations = _recording_operations(context, recording)
    # Alembic's own way to bind "op" (Operations.context() makes a new
    # Operations, so it cannot take this one).
    operations._install_proxy()
    try:
        with redirect_stdout(sys.stderr):
            function(**arguments)
    except Exception as error:
        recording.stop(error)
    finally:
        operations._remove_proxy()
    return recording
