"""``VersionedSchema``'s pure parts: what a release's migrations folder says,
whether a database has reached it, and the one query a connection costs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from alembic_flask_env import ReleaseNotMigrated
from alembic_flask_env import VersionedSchema
from alembic_flask_env.errors import InvalidSetting
from alembic_flask_env.expand.release import Release
from alembic_flask_env.expand.release import read_release
from alembic_flask_env.expand.search_path import DatabaseState
from alembic_flask_env.expand.search_path import behind_a_proxy
from alembic_flask_env.expand.search_path import local_path_statement
from alembic_flask_env.expand.search_path import read_state
from alembic_flask_env.expand.search_path import sql_literal
from alembic_flask_env.expand.search_path import state_query

RELEASE = Release(
    directory=Path("/srv/app/migrations"), heads=("a2",), known=frozenset({"a1", "a2"})
)


def test_the_name_imports_from_the_package() -> None:
    from alembic_flask_env.expand.versioned_schema import VersionedSchema as defined

    assert VersionedSchema is defined


@pytest.mark.parametrize(
    ("database", "unreached"),
    [
        (("a2",), []),  # at the head: expanded, or nothing pending
        (("a3",), []),  # a newer release's revision: this is the old release
        (("a1",), ["a2"]),  # behind
        ((), ["a2"]),  # never migrated
    ],
)
def test_a_head_is_reached_at_itself_or_a_revision_the_folder_does_not_know(
    database: tuple[str, ...], unreached: list[str]
) -> None:
    assert RELEASE.unreached_heads(database) == unreached


def test_a_database_behind_the_release_is_refused_naming_both_and_the_fix() -> None:
    with pytest.raises(ReleaseNotMigrated) as raised:
        RELEASE.refuse_unreached(("a1",))
    assert str(raised.value) == (
        "This release's migrations folder (/srv/app/migrations) ends at revision"
        " 'a2', but the database is at 'a1': its tables are not yet what this"
        " code expects. Run 'alembic upgrade head' (with this release's"
        " migrations) before starting this release."
    )


def test_a_database_never_migrated_is_refused_saying_so() -> None:
    with pytest.raises(ReleaseNotMigrated, match="at no revision \\(alembic_version"):
        RELEASE.refuse_unreached(())


def test_reading_a_folder_gives_its_heads_and_revisions(tmp_path: Path) -> None:
    versions = tmp_path / "migrations" / "versions"
    versions.mkdir(parents=True)
    for revision, down in (("a1", None), ("a2", "a1"), ("b2", "a1")):
        (versions / f"{revision}.py").write_text(
            f"revision = {revision!r}\ndown_revision = {down!r}\n"
        )
    release = read_release(tmp_path / "migrations")
    assert release.heads == ("a2", "b2")
    assert release.known == {"a1", "a2", "b2"}
    assert release.version_schemas() == {"a2": "afe_v_a2", "b2": "afe_v_b2"}


def test_a_directory_that_is_no_migrations_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidSetting) as raised:
        read_release(tmp_path / "nowhere")
    assert str(raised.value) == (
        f"VersionedSchema(directory='{tmp_path / 'nowhere'}') names"
        f" {tmp_path / 'nowhere'}, which is not a migrations folder (it has no"
        " versions/ directory). Pass the folder this release's revisions are in,"
        " as an absolute path or relative to the working directory the app"
        " starts in."
    )


def test_revisions_alembic_cannot_read_are_refused_with_its_reason(
    tmp_path: Path,
) -> None:
    versions = tmp_path / "versions"
    versions.mkdir()
    (versions / "a1.py").write_text("revision = 'a1'\ndown_revision = 'a2'\n")
    (versions / "a2.py").write_text("revision = 'a2'\ndown_revision = 'a1'\n")
    with pytest.raises(InvalidSetting) as raised:
        read_release(tmp_path)
    assert str(raised.value).startswith(
        f"VersionedSchema(directory='{tmp_path}'): Alembic cannot read the"
        f" revisions of {tmp_path}: Cycle is detected in revisions"
    )


def test_literals_are_quoted_as_sql_strings() -> None:
    assert sql_literal("it's") == "'it''s'"


def test_the_query_sets_the_path_in_session_mode_only() -> None:
    session = state_query({"a2": "afe_v_a2"}, set_path=True)
    pooled = state_query({"a2": "afe_v_a2"}, set_path=False)
    assert "(VALUES ('a2', 'afe_v_a2'))" in session
    assert "set_config('search_path', quote_ident(n.nspname)" in session
    assert "set_config" not in pooled
    assert local_path_statement("afe_v_a2") == (
        "SELECT set_config('search_path', quote_ident('afe_v_a2')"
        " || ', ' || current_setting('search_path'), true)"
    )


def test_the_answer_names_the_pending_schema_if_any() -> None:
    pending = read_state([("a2", "afe_v_a2", '"afe_v_a2", public', 5432)])
    assert pending.revisions == ("a2",)
    assert pending.version_schema == "afe_v_a2"
    assert pending.server_port == 5432
    assert read_state([("a1", None, None, None)]).version_schema is None
    assert read_state([]).revisions == ()


@pytest.mark.parametrize(
    ("url_port", "server_port", "proxied"),
    [(6432, 5432, True), (None, 5432, False), (5433, 5433, False), (6432, None, False)],
)
def test_another_port_on_the_server_than_in_the_url_hints_at_a_pooler(
    url_port: int | None, server_port: int | None, proxied: bool
) -> None:
    state = DatabaseState(revisions=(), version_schema=None, server_port=server_port)
    assert behind_a_proxy(url_port, state) is proxied


def test_with_branches_each_head_must_be_reached() -> None:
    release = Release(
        directory=Path("/srv/app/migrations"),
        heads=("a2", "b2"),
        known=frozenset({"a1", "a2", "b2"}),
    )
    assert release.unreached_heads(("a2", "b2")) == []
    assert release.unreached_heads(("a2", "a1")) == ["b2"]
    assert release.version_schemas() == {"a2": "afe_v_a2", "b2": "afe_v_b2"}
