"""Where the environment's settings come from, and in which order."""

from __future__ import annotations

import configparser
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

# What Alembic itself parses pyproject.toml with (tomllib, or tomli before
# Python 3.11).
from alembic.util.compat import tomllib

from .errors import InvalidSetting

if TYPE_CHECKING:
    from alembic.config import Config

APP_KEY = "flask_app"
APP_ENVIRONMENT_VARIABLE = "FLASK_APP"
BINDS_KEY = "flask_binds"
METADATA_KEY = "flask_metadata"
LOCK_KEY = "migration_lock"
LOCK_TIMEOUT_KEY = "migration_lock_timeout"
TABLE_LOCK_TIMEOUT_KEY = "table_lock_timeout"
TABLE_LOCK_RETRIES_KEY = "table_lock_retries"
CONNECT_TIMEOUT_KEY = "migration_connect_timeout"
CHECKS_KEY = "migration_checks"
CHECKS_MIN_ROWS_KEY = "migration_checks_min_rows"
CHECKS_AUTOGENERATE_KEY = "migration_checks_autogenerate"
LEDGER_KEY = "migration_ledger"
LEDGER_TABLE_KEY = "migration_ledger_table"
TENANTS_KEY = "flask_tenants"
TENANT_SELECTION_KEY = "tenants"
TENANT_JOBS_KEY = "tenant_jobs"
TENANT_FAILURES_KEY = "tenant_failures"
TENANT_CANARY_KEY = "tenant_canary"
TENANT_REPORT_KEY = "tenant_report"
TENANT_SHARD_KEY = "tenant_shard"
BACKFILL_BATCH_SIZE_KEY = "backfill_batch_size"
BACKFILL_PAUSE_KEY = "backfill_pause"
#: The keys this package reads; "-x KEY" without "=VALUE" is an error for these.
OUR_KEYS = (
    APP_KEY,
    BINDS_KEY,
    METADATA_KEY,
    LOCK_KEY,
    LOCK_TIMEOUT_KEY,
    TABLE_LOCK_TIMEOUT_KEY,
    TABLE_LOCK_RETRIES_KEY,
    CONNECT_TIMEOUT_KEY,
    CHECKS_KEY,
    CHECKS_MIN_ROWS_KEY,
    CHECKS_AUTOGENERATE_KEY,
    LEDGER_KEY,
    LEDGER_TABLE_KEY,
    TENANTS_KEY,
    TENANT_SELECTION_KEY,
    TENANT_JOBS_KEY,
    TENANT_FAILURES_KEY,
    TENANT_CANARY_KEY,
    TENANT_REPORT_KEY,
    TENANT_SHARD_KEY,
    BACKFILL_BATCH_SIZE_KEY,
    BACKFILL_PAUSE_KEY,
)

#: An example value of each key, for the messages that ask for one.
EXAMPLES = {
    APP_KEY: "yourpackage:create_app",
    BINDS_KEY: "default,users",
    METADATA_KEY: "yourpackage.models:Base.metadata",
    LOCK_KEY: "false",
    LOCK_TIMEOUT_KEY: "600",
    TABLE_LOCK_TIMEOUT_KEY: "2",
    TABLE_LOCK_RETRIES_KEY: "3",
    CONNECT_TIMEOUT_KEY: "30",
    CHECKS_KEY: "warn",
    CHECKS_MIN_ROWS_KEY: "10000",
    CHECKS_AUTOGENERATE_KEY: "false",
    LEDGER_KEY: "false",
    LEDGER_TABLE_KEY: "alembic_ledger",
    TENANTS_KEY: "yourpackage.tenancy:tenants",
    TENANT_SELECTION_KEY: "acme,beta",
    TENANT_JOBS_KEY: "4",
    TENANT_FAILURES_KEY: "continue",
    TENANT_CANARY_KEY: "1",
    TENANT_REPORT_KEY: "tenants.json",
    TENANT_SHARD_KEY: "0/4",
    BACKFILL_BATCH_SIZE_KEY: "10000",
    BACKFILL_PAUSE_KEY: "0.1",
}

#: The longest each timeout may be, in seconds, and why: the most that every
#: server and driver it is handed to accepts, so that a value we take is
#: never refused there with a traceback after the run has begun.
MAXIMUM_SECONDS: dict[str, tuple[int, str]] = {
    # The lock is waited for on our own clock; a year is "forever" enough.
    LOCK_TIMEOUT_KEY: (31_536_000, "one year"),
    TABLE_LOCK_TIMEOUT_KEY: (
        2_147_483,
        "what PostgreSQL's lock_timeout takes (2147483647 ms)",
    ),
    CONNECT_TIMEOUT_KEY: (31_536_000, "what PyMySQL's connect_timeout takes"),
    # A pause between two batches longer than an hour is a mistake.
    BACKFILL_PAUSE_KEY: (3600, "one hour"),
}

#: A plain decimal number as one writes it in an ini file, in ASCII digits:
#: str.isdigit() and float() also take "²", "١٢", "1_000" or " inf ".
_NUMBER = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
_WHOLE_NUMBER = re.compile(r"[0-9]+", re.ASCII)

#: The TOML types each key accepts in [tool.alembic], besides a string. A
#: TOML value is turned into the text the same key would have in the ini
#: file, so every key is parsed in one place whatever file it came from.
_TOML_TYPES: dict[str, tuple[type, ...]] = {
    BINDS_KEY: (list,),
    LOCK_KEY: (bool,),
    LOCK_TIMEOUT_KEY: (int, float),
    TABLE_LOCK_TIMEOUT_KEY: (int, float),
    TABLE_LOCK_RETRIES_KEY: (int,),
    CONNECT_TIMEOUT_KEY: (int, float),
    CHECKS_MIN_ROWS_KEY: (int,),
    CHECKS_AUTOGENERATE_KEY: (bool,),
    LEDGER_KEY: (bool,),
    TENANT_SELECTION_KEY: (list,),
    TENANT_JOBS_KEY: (int,),
    TENANT_CANARY_KEY: (int,),
    BACKFILL_BATCH_SIZE_KEY: (int,),
    BACKFILL_PAUSE_KEY: (int, float),
}
_LIST_KEYS = (BINDS_KEY, TENANT_SELECTION_KEY)
_TOML_TYPE_NAMES = {
    bool: "a boolean",
    int: "an integer",
    float: "a float",
    list: "a list of strings",
}

#: Where a Setting of the app comes from when an app context was active
#: and flask_app was never read.
ACTIVE_APP_CONTEXT = "the active Flask app context"


@dataclass(frozen=True)
class Setting:
    """A configuration value together with where it was found, so that an
    error can tell the user which line to fix.
    """

    key: str
    value: str
    source: str

    def describe(self) -> str:
        if self.source == ACTIVE_APP_CONTEXT:
            return f"{ACTIVE_APP_CONTEXT} ({self.key} is not read there)"
        return f"{self.key} = {self.value!r} (from {self.source})"


def find_setting(
    config: Config,
    x_arguments: Mapping[str, str],
    key: str,
    environment_variable: str | None = None,
) -> Setting | None:
    """Look ``key`` up in ``-x key=...``, then the ``[alembic]`` section of
    the ini file, then ``[tool.alembic]`` in pyproject.toml, then (if given)
    an environment variable. Empty values count as unset, so the template's
    blank ``flask_app =`` falls through to the next place.
    """
    value = x_arguments.get(key, "").strip()
    if value:
        return Setting(key, value, f"-x {key}=...")

    value = _ini_value(config, key).strip()
    if value:
        return Setting(key, value, _ini_name(config))

    # Not get_alembic_option(): it stops at the ini's key even when that is
    # empty, as the template's "flask_app =" is until the user fills it in.
    value = _toml_value(config, key).strip()
    if value:
        return Setting(key, value, TOML_SOURCE)

    if environment_variable is not None:
        value = os.environ.get(environment_variable, "").strip()
        if value:
            return Setting(
                key, value, f"the {environment_variable} environment variable"
            )
    return None


TOML_SOURCE = "[tool.alembic] in pyproject.toml"


def _ini_value(config: Config, key: str) -> str:
    """The key's value in the ini file, "" if it is not there.

    :raises InvalidSetting: the value has a ``%`` that ConfigParser cannot
        interpolate; its own exception names neither the key nor the fix.
    """
    if not config.file_config.has_section(config.config_ini_section):
        # "alembic -c pyproject.toml" with no ini: Alembic's own
        # get_main_option() would fail on the missing section.
        return ""
    try:
        return config.get_main_option(key) or ""
    except configparser.InterpolationError:
        section = config.config_ini_section
        raw = config.file_config.get(section, key, raw=True)
        raise InvalidSetting(
            f"{key} = {raw!r} (from {_ini_name(config)}) has a '%' that the ini"
            " file reads as the start of a %(name)s substitution. Write each"
            f" literal '%' in {key} as '%%'."
        ) from None


def _toml_value(config: Config, key: str) -> str:
    """The key's value in [tool.alembic] as the text the ini would hold:
    ``true``/``false`` for booleans, numbers as written, lists of strings
    joined by commas.

    :raises InvalidSetting: a TOML type the key does not take.
    """
    value = config.toml_alembic_config.get(key)
    if value is None or isinstance(value, str):
        return value or ""
    allowed = _TOML_TYPES.get(key, ())
    # bool is an int in Python, but not a number of seconds in TOML.
    if isinstance(value, allowed) and not (
        isinstance(value, bool) and bool not in allowed
    ):
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, list):
            if all(isinstance(item, str) for item in value):
                # [] and [""] name no bind (or tenant): "," says so, where
                # "" would read as unset and mean all.
                return ",".join(value) or ","
        else:
            return str(value)
    kinds = ["a string", *(_TOML_TYPE_NAMES[t] for t in allowed)]
    accepted = " or ".join(
        [", ".join(kinds[:-1]), kinds[-1]] if len(kinds) > 1 else kinds
    )
    raise InvalidSetting(
        f"{key} = {value!r} (from {TOML_SOURCE}) is {_toml_type_name(value)},"
        f" which {key} cannot be. It takes {accepted}, for example"
        f" {key} = {_toml_example(key)}."
    )


def _toml_type_name(value: object) -> str:
    if isinstance(value, list) and not all(isinstance(item, str) for item in value):
        return "a list with items that are not strings"
    for kind, name in _TOML_TYPE_NAMES.items():
        if type(value) is kind:
            return name
    return f"a {type(value).__name__}"


def _toml_example(key: str) -> str:
    example = EXAMPLES[key]
    if key in _TOML_TYPES and key not in _LIST_KEYS:
        return example
    if key in _LIST_KEYS:
        return "[" + ", ".join(f'"{name}"' for name in example.split(",")) + "]"
    return f'"{example}"'


def seconds(setting: Setting, what: str) -> float:
    """The setting as a number of seconds: finite, 0 or more, and no more
    than the key's :data:`MAXIMUM_SECONDS`.

    :param what: what the seconds are for, completing "Set KEY to how long
        to ...".
    :raises InvalidSetting: anything else (``inf``, ``nan``, negative,
        not a number, too large).
    """
    text = setting.value.strip()
    value = float(text) if _NUMBER.fullmatch(text) else math.nan
    if not math.isfinite(value):
        raise InvalidSetting(
            f"{setting.describe()} is not a number of seconds (finite, 0 or"
            f" more). Set {setting.key} to how long to {what}, for example"
            f" {setting.key} = {EXAMPLES[setting.key]}"
            + (" (0: do not wait)." if setting.key == LOCK_TIMEOUT_KEY else ".")
        )
    maximum, why = MAXIMUM_SECONDS.get(setting.key, (None, ""))
    if maximum is not None and value > maximum:
        raise InvalidSetting(
            f"{setting.describe()} is more than {maximum} s, the longest"
            f" {setting.key} can be ({why}). Set {setting.key} to a number of"
            f" seconds from 0 to {maximum}, for example {setting.key} ="
            f" {EXAMPLES[setting.key]}."
        )
    return value


def count(setting: Setting, what: str) -> int:
    """The setting as a whole number, 0 or more.

    :raises InvalidSetting: anything else.
    """
    value = setting.value.strip()
    if not _WHOLE_NUMBER.fullmatch(value):
        raise InvalidSetting(
            f"{setting.describe()} is not a whole number, 0 or more. Set"
            f" {setting.key} to {what}, for example {setting.key} ="
            f" {EXAMPLES[setting.key]}."
        )
    return int(value)


def where_to_set(setting: Setting) -> str:
    """Where the user keeps this package's keys, judged by where ``setting``
    came from, for messages that ask them to add another key: "in
    alembic.ini", "under [tool.alembic] in pyproject.toml", or both.
    """
    if setting.source == TOML_SOURCE:
        return f"under {TOML_SOURCE}"
    if setting.source.startswith("["):  # [alembic] in <ini file>
        return f"in {setting.source.partition(' in ')[2]}"
    return f"in alembic.ini (or under {TOML_SOURCE})"


def read_x_arguments(arguments: list[str]) -> dict[str, str]:
    """``-x key=value`` arguments as a dictionary, as Alembic's
    ``get_x_argument(as_dictionary=True)`` makes it, but refusing one of our
    keys without a value, which would otherwise be silently ignored.

    :raises InvalidSetting: ``-x flask_app`` and the like.
    """
    values = {}
    for argument in arguments:
        key, separator, value = argument.partition("=")
        name = key.strip()
        if not separator and name in OUR_KEYS:
            raise InvalidSetting(
                f"-x {argument!r} has no value. Write -x {name}=VALUE,"
                f" for example -x {name}={EXAMPLES[name]}."
            )
        # "-x 'flask_app =x'" names flask_app too, not a key with a space.
        values[name] = value
    return values


@dataclass(frozen=True)
class UnreadPyproject:
    """A pyproject.toml beside the ini file whose ``[tool.alembic]`` this
    run does not read.
    """

    path: Path
    #: Its [tool.alembic] table.
    settings: Mapping[str, object]


def unread_pyproject(config: Config) -> UnreadPyproject | None:
    """The pyproject.toml beside the ini file, when it has a
    ``[tool.alembic]`` table and Alembic read another pyproject.toml, or
    none. The alembic command looks for pyproject.toml in the working
    directory only (unless a second ``-c`` names one), while it finds the
    ini by the path given, so ``alembic -c path/alembic.ini`` run from
    elsewhere reads the ini but not the settings beside it.
    """
    if not config.config_file_name:
        return None
    beside = Path(config.config_file_name).absolute().parent / "pyproject.toml"
    read = toml_file_read(config)
    if not beside.is_file() or (read is not None and read.samefile(beside)):
        return None
    try:
        with beside.open("rb") as file:
            table = tomllib.load(file).get("tool", {}).get("alembic", {})
    except (OSError, ValueError):  # (TOMLDecodeError is a ValueError)
        return None  # it is not read anyway; Alembic reports a bad one it reads
    return UnreadPyproject(beside, table) if isinstance(table, dict) and table else None


def toml_file_read(config: Config) -> Path | None:
    """The pyproject.toml Alembic read, absolute; None if it read none."""
    name = config.toml_file_name
    path = Path(name).absolute() if name else None
    return path if path is not None and path.is_file() else None


def files_read(config: Config) -> str:
    """Which configuration files Alembic read, for a message about a key
    found in none of them: "/app/alembic.ini and /app/pyproject.toml", or
    "/app/alembic.ini, and no pyproject.toml (there is none in /elsewhere)".
    """
    ini = (
        str(Path(config.config_file_name).absolute())
        if config.config_file_name
        else "no ini file"
    )
    toml = toml_file_read(config)
    if toml is not None:
        return f"{ini} and {toml}"
    looked = Path(config.toml_file_name or "pyproject.toml").absolute()
    return f"{ini}, and no pyproject.toml (there is none in {looked.parent})"


def _ini_name(config: Config) -> str:
    name = os.path.basename(config.config_file_name or "alembic.ini")
    return f"[{config.config_ini_section}] in {name}"
