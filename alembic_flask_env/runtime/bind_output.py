"""What ``alembic current`` prints for several binds, told apart.

Alembic prints the current revision of each database the environment runs,
one unlabelled line each and nothing for a database at base; with one
database per bind that is ambiguous. While a bind runs, its output is
collected and printed again labelled with the bind.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from types import TracebackType

    from alembic.config import Config


class _Captured(io.StringIO):
    # Alembic encodes what it prints to the stream's encoding, "ascii" when
    # it has none, which would turn every other character into "?".
    encoding = "utf-8"


class BindOutput:
    """While one bind runs, collect what Alembic prints on stdout, then
    print it. For ``alembic current``, each line is labelled with the bind,
    and a bind at base (for which Alembic prints nothing) shows
    ``<bind>: <base>``, so that a person or a script can tell the binds
    apart.
    """

    def __init__(self, config: Config, bind: str) -> None:
        self.config = config
        self.bind = bind
        #: Set by the caller once the command is known.
        self.command = ""
        self._captured = _Captured()

    def __enter__(self) -> BindOutput:
        self._stdout = self.config.stdout
        self.config.stdout = self._captured
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.config.stdout = self._stdout
        lines = self._captured.getvalue().splitlines()
        if self.command == "current":
            lines = [f"{self.bind}: {line}" for line in lines or ["<base>"]]
        for line in lines:
            self.config.print_stdout(line)
