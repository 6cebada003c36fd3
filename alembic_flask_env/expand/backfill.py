"""The backfill: existing rows converted in batches, each batch ONE
statement (so a short transaction of its own, its lock waits bounded by
``table_lock_timeout``) that also records how far it got in the state row.
A run stopped any way (``kill -9`` included) loses at most the batch in
flight, which rolled back; the next run starts after the last committed
one, so no row is converted twice.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any

from sqlalchemy import text

from ..settings import BACKFILL_BATCH_SIZE_KEY
from ..settings import BACKFILL_PAUSE_KEY
from ..settings import count
from ..settings import find_setting
from ..settings import seconds
from .sql import backfill_statement
from .sql import needs_backfill
from .sql import table_of

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.engine import Connection

    from .plan import Step

log = logging.getLogger(__name__)

#: Seconds between two progress lines.
PROGRESS_EVERY = 5.0


@dataclass(frozen=True)
class BackfillSettings:
    batch_size: int = 10_000
    pause: float = 0.0


def read_backfill_settings(
    config: Config, x_arguments: Mapping[str, str]
) -> BackfillSettings:
    """``backfill_batch_size`` (rows a batch, default 10000, at least 1) and
    ``backfill_pause`` (seconds between batches, default 0).

    :raises InvalidSetting: not a whole number, 0, or not a number of seconds.
    """
    size_setting = find_setting(config, x_arguments, BACKFILL_BATCH_SIZE_KEY)
    pause_setting = find_setting(config, x_arguments, BACKFILL_PAUSE_KEY)
    size = (
        10_000
        if size_setting is None
        else count(size_setting, "the rows a backfill batch converts")
    )
    if size == 0:
        from ..errors import InvalidSetting

        raise InvalidSetting(
            f"{size_setting.describe()} is 0; a backfill batch converts at least"  # type: ignore[union-attr]
            f" one row. Set {BACKFILL_BATCH_SIZE_KEY} to 1 or more, for example"
            f" {BACKFILL_BATCH_SIZE_KEY} = 10000."
        )
    pause = (
        0.0
        if pause_setting is None
        else seconds(pause_setting, "pause between two backfill batches")
    )
    return BackfillSettings(size, pause)


def backfill(
    connection: Connection,
    revision: str,
    steps: list[Step],
    progress: dict[str, Any],
    settings: BackfillSettings,
    state_schema: str | None,
    lock_timeout: float | None,
) -> list[str]:
    """Run every step's backfill to its end, on ``connection`` in
    autocommit mode, from where ``progress`` (the state row's) says; what
    each did, for the ledger.
    """
    done: list[str] = []
    if lock_timeout is not None:
        milliseconds = max(1, round(lock_timeout * 1000))
        connection.execute(text(f"SET lock_timeout = {milliseconds}"))
    try:
        for number, step in enumerate(steps):
            if needs_backfill(step):
                done += _one(
                    connection,
                    revision,
                    number,
                    step,
                    progress.get(str(number), {}),
                    settings,
                    state_schema,
                )
    finally:
        if lock_timeout is not None:
            connection.execute(text("RESET lock_timeout"))
    return done


def _one(
    connection: Connection,
    revision: str,
    number: int,
    step: Step,
    done_before: dict[str, Any],
    settings: BackfillSettings,
    state_schema: str | None,
) -> list[str]:
    statement = text(backfill_statement(revision, number, step, state_schema))
    last: str | None = done_before.get("last")
    done = int(done_before.get("done", 0))
    estimate = connection.execute(
        text("SELECT reltuples::bigint FROM pg_class WHERE oid = CAST(:t AS regclass)"),
        {"t": table_of(step)},
    ).scalar()
    if estimate is None or estimate <= 0:  # never analysed: count them once
        estimate = connection.execute(
            text(f"SELECT count(*) FROM {table_of(step)}")
        ).scalar()
    total = max(int(estimate or 0), done)
    what = f"Backfill of {step.target} (revision {revision})"
    if last is not None:
        log.info("%s: resuming after key %s (%d rows done before).", what, last, done)
    started = shown = time.monotonic()
    converted = 0
    while True:
        rows, batch_last = connection.execute(
            statement, {"last": last, "size": settings.batch_size, "revision": revision}
        ).one()
        converted += int(rows)
        done += int(rows)
        if batch_last is not None:
            last = str(batch_last)
        now = time.monotonic()
        if int(rows) < settings.batch_size:
            break
        if now - shown >= PROGRESS_EVERY:
            shown = now
            log.info("%s", progress_line(what, done, total, converted, now - started))
        if settings.pause:
            time.sleep(settings.pause)
    elapsed = time.monotonic() - started
    log.info("%s: done, %d rows in %.1f s.", what, done, elapsed)
    return [f"{step.target}: {done} rows, {converted} in this run in {elapsed:.1f} s"]


def progress_line(
    what: str, done: int, total: int, converted: int, elapsed: float
) -> str:
    """``what: 120000 of ~1000000 rows, 61000 rows/s, ETA 14 s``."""
    rate = converted / elapsed if elapsed > 0 else 0.0
    total = max(total, done)
    eta = f"{math.ceil((total - done) / rate)} s" if rate > 0 else "unknown"
    return f"{what}: {done} of ~{total} rows, {rate:.0f} rows/s, ETA {eta}"
