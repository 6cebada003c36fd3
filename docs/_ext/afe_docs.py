"""Tables of the docs rendered from the package, so they cannot drift.

``settings-table``
    Every key the package reads (``alembic_flask_env.settings.OUR_KEYS``),
    with where it may be set, the types it takes, its default and its
    example value, all from the code; the page gives one description per key
    as the directive's content (a line with the key, then indented text). A
    key of the code without a description, or a description of no key, is a
    warning, which fails the ``-W`` build.

``safe-migration-rules``
    One section per rule of ``alembic_flask_env.checks.rules.RULES``: its
    id, databases, what it catches (the rule's own summary and module
    docstring), and the unsafe and the safe revision body that the test
    suite runs against the real servers (``POSTGRESQL_CASES`` and
    ``MARIADB_CASES`` in ``tests/test_safe_migrations.py``, read with
    :mod:`ast`, so the docs build needs neither pytest nor a server).

``public-api``
    Autodoc of every name in ``alembic_flask_env.__all__``.

``refused-migration``
    What a run prints when the checks refuse a revision, made by the
    package's own code.

``package-constant``
    The value of a string constant of the package, as a literal block: a
    message the code prints, quoted exactly.
"""

from __future__ import annotations

import ast
import importlib
import sys
import textwrap
from pathlib import Path
from typing import Any
from typing import ClassVar

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

log = logging.getLogger(__name__)

REPOSITORY = Path(__file__).resolve().parents[2]
SAFE_MIGRATION_TESTS = REPOSITORY / "tests" / "test_safe_migrations.py"


def _defaults() -> dict[str, str]:
    """Each key's default, from the constants and dataclass defaults the
    code uses where it has them; the rest say what "unset" does.
    """
    from alembic_flask_env import settings as s
    from alembic_flask_env.checks.settings import ChecksSettings
    from alembic_flask_env.expand.backfill import BackfillSettings
    from alembic_flask_env.ledger.settings import DEFAULT_TABLE
    from alembic_flask_env.ledger.settings import LedgerSettings
    from alembic_flask_env.runtime.connection import DEFAULT_CONNECT_TIMEOUT_SECONDS
    from alembic_flask_env.runtime.lock.settings import DEFAULT_TIMEOUT_SECONDS
    from alembic_flask_env.tenants.settings import STOP

    checks, ledger = ChecksSettings(), LedgerSettings()
    backfill = BackfillSettings()

    def boolean(value: bool) -> str:
        return "true" if value else "false"

    return {
        s.APP_KEY: "none: required",
        s.BINDS_KEY: "unset: every bind",
        s.METADATA_KEY: "unset: the extension's metadata",
        s.LOCK_KEY: "true",
        s.LOCK_TIMEOUT_KEY: f"{DEFAULT_TIMEOUT_SECONDS:g}",
        s.TABLE_LOCK_TIMEOUT_KEY: "unset: as long as the database waits",
        s.TABLE_LOCK_RETRIES_KEY: "0",
        s.CONNECT_TIMEOUT_KEY: f"{DEFAULT_CONNECT_TIMEOUT_SECONDS:g}",
        s.CHECKS_KEY: checks.mode,
        s.CHECKS_MIN_ROWS_KEY: str(checks.min_rows),
        s.CHECKS_AUTOGENERATE_KEY: boolean(checks.autogenerate),
        s.LEDGER_KEY: boolean(ledger.enabled and not ledger.required),
        s.LEDGER_TABLE_KEY: DEFAULT_TABLE,
        s.TENANTS_KEY: "unset: no tenants",
        s.TENANT_SELECTION_KEY: "unset: every tenant",
        s.TENANT_JOBS_KEY: "one per CPU the process may use",
        s.TENANT_FAILURES_KEY: STOP,
        s.TENANT_CANARY_KEY: "0",
        s.TENANT_REPORT_KEY: "unset: no report",
        s.TENANT_SHARD_KEY: "unset: every tenant",
        s.BACKFILL_BATCH_SIZE_KEY: str(backfill.batch_size),
        s.BACKFILL_PAUSE_KEY: f"{backfill.pause:g}",
    }


def _types(key: str) -> str:
    from alembic_flask_env import settings as s

    # pylint: disable=protected-access
    kinds = ["string", *(s._TOML_TYPE_NAMES[t] for t in s._TOML_TYPES.get(key, ()))]
    text = ", ".join(k.removeprefix("a ").removeprefix("an ") for k in kinds)
    maximum = s.MAXIMUM_SECONDS.get(key)
    if maximum is not None:
        text += f"; seconds, 0 to {maximum[0]} ({maximum[1]})"
    return text


def _where(key: str) -> str:
    from alembic_flask_env import settings as s

    places = [f"-x {key}=...", "[alembic] in alembic.ini", s.TOML_SOURCE]
    if key == s.APP_KEY:
        places.append(f"the {s.APP_ENVIRONMENT_VARIABLE} environment variable")
    return "; ".join(places)


def _descriptions(content: list[str]) -> dict[str, list[str]]:
    """``key`` on a line of its own, its description indented below it."""
    found: dict[str, list[str]] = {}
    key = None
    for line in content:
        if line and not line[0].isspace():
            key = line.strip()
            found[key] = []
        elif key is not None:
            found[key].append(line)
    return {
        k: textwrap.dedent("\n".join(v)).strip().splitlines() for k, v in found.items()
    }


def _cell(content: nodes.Node | str) -> nodes.entry:
    entry = nodes.entry()
    if isinstance(content, str):
        entry += nodes.paragraph("", "", nodes.literal(content, content))
    else:
        entry += content
    return entry


def _table(headers: list[str], widths: list[int]) -> tuple[nodes.table, nodes.tbody]:
    table = nodes.table(classes=["generated"])
    group = nodes.tgroup(cols=len(headers))
    table += group
    for width in widths:
        group += nodes.colspec(colwidth=width)
    head = nodes.thead()
    row = nodes.row()
    for header in headers:
        row += nodes.entry("", nodes.paragraph(text=header))
    head += row
    group += head
    body = nodes.tbody()
    group += body
    return table, body


class SettingsTable(SphinxDirective):
    has_content = True

    def run(self) -> list[nodes.Node]:
        from alembic_flask_env.settings import EXAMPLES
        from alembic_flask_env.settings import OUR_KEYS

        descriptions = _descriptions(list(self.content))
        defaults = _defaults()
        for key in set(OUR_KEYS) - set(descriptions):
            log.warning(
                "settings-table: the package reads %r, which has no description",
                key,
                location=(self.env.docname, self.lineno),
            )
        for key in set(descriptions) - set(OUR_KEYS):
            log.warning(
                "settings-table: %r is described, but the package reads no such key",
                key,
                location=(self.env.docname, self.lineno),
            )
        table, body = _table(
            ["key", "meaning", "takes", "default", "example"], [18, 44, 18, 12, 14]
        )
        for key in OUR_KEYS:
            row = nodes.row(ids=[f"setting-{key.replace('_', '-')}"])
            row += _cell(key)
            meaning = nodes.container()
            self.state.nested_parse(
                StringList(descriptions.get(key, []), source=self.content.source(0)),
                self.content_offset,
                meaning,
            )
            meaning += nodes.paragraph(
                "", "Set in: ", nodes.literal(_where(key), _where(key))
            )
            row += _cell(meaning)
            row += _cell(nodes.paragraph(text=_types(key)))
            row += _cell(nodes.paragraph(text=defaults[key]))
            row += _cell(EXAMPLES[key])
            body += row
        return [table]


def _cases() -> dict[str, dict[str, tuple[str, str | None]]]:
    """``POSTGRESQL_CASES`` and ``MARIADB_CASES`` of the tests, as data."""
    tree = ast.parse(SAFE_MIGRATION_TESTS.read_text(encoding="utf-8"))
    found: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name) and target.id.endswith("_CASES"):
                    assert node.value is not None
                    found[target.id] = ast.literal_eval(node.value)
    return found


#: A change each rule finds, for the paragraph a run prints about it (the
#: changes the unsafe bodies of the tests make, on their table "item").
RULE_EXAMPLES: dict[str, dict[str, Any]] = {
    "require-concurrent-index-creation": {
        "kind": "create_index",
        "name": "ix_item_name",
        "columns": ("'name'",),
    },
    "require-concurrent-index-deletion": {"kind": "drop_index", "name": "ix_item_qty"},
    "ban-concurrent-index-creation-in-transaction": {
        "kind": "create_index",
        "name": "ix_item_name",
        "concurrently": True,
    },
    "adding-not-nullable-field": {"kind": "set_not_null", "name": "name"},
    "adding-required-field": {"kind": "add_column", "name": "price", "not_null": True},
    "adding-field-with-default": {
        "kind": "add_column",
        "name": "token",
        "default": "md5(random()::text)",
    },
    "adding-foreign-key-constraint": {
        "kind": "add_foreign_key",
        "name": "fk_item_owner",
    },
    "constraint-missing-not-valid": {
        "kind": "add_check",
        "name": "ck_qty",
        "condition": "qty >= 0",
    },
    "changing-column-type": {
        "kind": "alter_type",
        "name": "qty",
        "old_type": "integer",
        "new_type": "bigint",
    },
    "renaming-column": {"kind": "rename_column", "name": "qty"},
    "renaming-table": {"kind": "rename_table", "name": "article"},
    "ban-drop-column": {"kind": "drop_column", "name": "qty"},
    "ban-drop-table": {"kind": "drop_table"},
    "disallowed-unique-constraint": {"kind": "add_unique", "name": "uq_item_name"},
    "adding-json-column": {
        "kind": "add_column",
        "name": "data",
        "column_traits": frozenset({"json"}),
    },
    "adding-stored-generated-column": {
        "kind": "add_column",
        "name": "double",
        "column_traits": frozenset({"stored_generated"}),
    },
    "adding-auto-incrementing-column": {
        "kind": "add_column",
        "name": "seq",
        "column_traits": frozenset({"auto_increment"}),
    },
    "adding-exclusion-constraint": {"kind": "add_exclusion", "name": "ex_qty"},
}


def _what_a_run_says(rule: Any) -> str | None:
    """The finding's paragraph for the rule's example change, offline on
    PostgreSQL (every table taken to exist and be large), as the lint
    prints it; None when the rule has no example or finds nothing in it.
    """
    from alembic_flask_env.checks.changes import Change
    from alembic_flask_env.checks.facts import Facts
    from alembic_flask_env.checks.findings import Finding

    example = RULE_EXAMPLES.get(rule.id)
    if example is None:
        return None
    path = "migrations/versions/s1.py"
    change = Change(table="item", path=path, line=11, revision="s1", **example)
    verdict = rule.check(change, Facts("postgresql"))
    if verdict is None:
        return None
    message, fix = verdict
    message = message[0].upper() + message[1:]
    return Finding(rule.id, "s1", path, 11, "item", None, message, fix).paragraph()


def _body(text: str) -> str:
    return textwrap.dedent(text).strip("\n")


class SafeMigrationRules(SphinxDirective):
    has_content = False

    def run(self) -> list[nodes.Node]:
        from alembic_flask_env.checks.rules import RULES
        from alembic_flask_env.checks.rules import RUNNING_CODE_RULES

        cases = _cases()
        postgresql, mariadb = cases["POSTGRESQL_CASES"], cases["MARIADB_CASES"]
        sections: list[nodes.Node] = []
        for rule in RULES:
            section = nodes.section(ids=[rule.id])
            section += nodes.title(rule.id, "", nodes.literal(rule.id, rule.id))
            module = sys.modules[rule.check.__module__]
            why = " ".join((module.__doc__ or "").split())
            databases = ", ".join(
                {"postgresql": "PostgreSQL", "mysql": "MySQL", "mariadb": "MariaDB"}[d]
                for d in sorted(rule.dialects, reverse=True)
            )
            if rule.id not in postgresql and rule.id not in mariadb:
                log.warning(
                    "safe-migration-rules: rule %r has no unsafe and safe case in"
                    " %s, so its section would show no form",
                    rule.id,
                    SAFE_MIGRATION_TESTS.name,
                    location=(self.env.docname, self.lineno),
                )
            section += nodes.paragraph(text=why)
            section += nodes.paragraph(
                "",
                "",
                nodes.strong(text="Catches: "),
                nodes.Text(f"{rule.summary}. "),
                nodes.strong(text="Databases: "),
                nodes.Text(databases + "."),
                *(
                    [
                        nodes.Text(
                            " Not held against a downgrade (it is what one is for)."
                        )
                    ]
                    if rule.id in RUNNING_CODE_RULES
                    else []
                ),
            )
            said = _what_a_run_says(rule)
            if said is None:
                log.warning(
                    "safe-migration-rules: rule %r finds nothing in its example"
                    " change (RULE_EXAMPLES in docs/_ext/afe_docs.py)",
                    rule.id,
                    location=(self.env.docname, self.lineno),
                )
            else:
                section += nodes.paragraph(
                    "",
                    "",
                    nodes.strong(text="What the lint and a run say (PostgreSQL):"),
                )
                section += nodes.literal_block(said, said, language="text")
            for where, table in (
                ("PostgreSQL", postgresql),
                ("MySQL/MariaDB", mariadb),
            ):
                if rule.id not in table:
                    continue
                unsafe, safe = table[rule.id]
                if where != "PostgreSQL" and (unsafe, safe) == postgresql.get(rule.id):
                    continue
                section += nodes.paragraph(
                    "", "", nodes.strong(text=f"Unsafe ({where}), refused:")
                )
                section += nodes.literal_block(
                    _body(unsafe), _body(unsafe), language="python"
                )
                if safe is None:
                    section += nodes.paragraph(
                        text=f"Safe ({where}): no single revision makes this change"
                        " safe while the running release uses the table; do it in"
                        " steps across releases, as the message above says, and when"
                        " it is safe, skip the rule in that revision with a reason:"
                    )
                    reason = "checked with the DBA, 2026-12-01"
                    skip = f'migration_checks_skip = {{"{rule.id}": "{reason}"}}'
                    section += nodes.literal_block(skip, skip, language="python")
                else:
                    section += nodes.paragraph(
                        "", "", nodes.strong(text=f"Safe ({where}), runs:")
                    )
                    section += nodes.literal_block(
                        _body(safe), _body(safe), language="python"
                    )
            sections.append(section)
        return sections


class RefusedMigration(SphinxDirective):
    """What a run prints when the checks refuse a revision, made by the
    package's own code: the rule's check of a change, the finding's
    paragraph and the refusal of :func:`~alembic_flask_env.checks.run.enforce`.

    Arguments: the rule id, the change's kind, table and name, and the
    table's estimated rows; ``:fix-only:`` prints just the code of the fix;
    ``:columns:`` names the index's columns, as the revision would.
    """

    required_arguments = 5
    option_spec: ClassVar[dict[str, Any]] = {
        "fix-only": directives.flag,
        "columns": directives.unchanged,
    }

    def run(self) -> list[nodes.Node]:
        from alembic_flask_env.checks.changes import Change
        from alembic_flask_env.checks.facts import Facts
        from alembic_flask_env.checks.findings import Finding
        from alembic_flask_env.checks.rules import RULES
        from alembic_flask_env.checks.run import enforce
        from alembic_flask_env.checks.settings import ChecksSettings
        from alembic_flask_env.errors import UnsafeMigration

        rule_id, kind, table, name, rows = self.arguments
        (rule,) = (rule for rule in RULES if rule.id == rule_id)
        path = "migrations/versions/s1.py"
        columns = tuple(
            repr(column) for column in self.options.get("columns", "").split()
        )
        change = Change(kind, table, path, 11, "s1", name=name, columns=columns)
        verdict = rule.check(change, Facts("postgresql"))
        assert verdict is not None, f"{rule_id} finds nothing in {change}"
        message, fix = verdict
        if "fix-only" in self.options:
            code = textwrap.dedent(fix.partition("\n")[2])
            return [nodes.literal_block(code, code, language="python")]
        finding = Finding(rule_id, "s1", path, 11, table, int(rows), message, fix)
        try:
            enforce([finding], ChecksSettings())
        except UnsafeMigration as error:
            text = f"FAILED: {error}"
        else:  # pragma: no cover - the default mode refuses
            raise AssertionError("the checks let the finding through")
        return [nodes.literal_block(text, text, language="text")]


class PackageConstant(SphinxDirective):
    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        module_name, _, name = self.arguments[0].partition(":")
        value = getattr(importlib.import_module(module_name), name)
        return [nodes.literal_block(str(value), str(value), language="text")]


class PublicApi(SphinxDirective):
    """Autodoc of every name in ``alembic_flask_env.__all__``: the functions
    (or, with the ``exceptions`` flag, the exceptions, the base class
    first), so that a public name added to the package is documented.
    Use it inside reStructuredText (``eval-rst`` in a MyST page).
    """

    optional_arguments = 1

    def run(self) -> list[nodes.Node]:
        import alembic_flask_env

        names = list(alembic_flask_env.__all__)
        want_exceptions = self.arguments == ["exceptions"]
        lines: list[str] = []
        for name in sorted(names, key=lambda n: (n != "FlaskEnvError", n)):
            is_exception = name[0].isupper()
            if is_exception != want_exceptions:
                continue
            if is_exception:
                lines += [
                    f".. autoexception:: alembic_flask_env.{name}",
                    "   :show-inheritance:",
                    "",
                ]
            else:
                lines += [f".. autofunction:: alembic_flask_env.{name}", ""]
        container = nodes.container()
        self.state.nested_parse(
            StringList(lines, source="alembic_flask_env.__all__"),
            self.content_offset,
            container,
        )
        return list(container.children)


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("settings-table", SettingsTable)
    app.add_directive("safe-migration-rules", SafeMigrationRules)
    app.add_directive("package-constant", PackageConstant)
    app.add_directive("public-api", PublicApi)
    app.add_directive("refused-migration", RefusedMigration)
    return {"version": "1", "parallel_read_safe": True}
