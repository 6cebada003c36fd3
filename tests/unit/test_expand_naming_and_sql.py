"""The names and SQL of expand/contract, from a plan alone."""

from __future__ import annotations

from alembic_flask_env.expand import STATE_TABLE
from alembic_flask_env.expand import version_schema_name
from alembic_flask_env.expand.backfill import progress_line
from alembic_flask_env.expand.plan import Step
from alembic_flask_env.expand.sql import abort_statements
from alembic_flask_env.expand.sql import backfill_statement
from alembic_flask_env.expand.sql import contract_statements
from alembic_flask_env.expand.sql import expand_statements
from alembic_flask_env.expand.sql import view_statements


def test_the_version_schema_name_is_a_plain_identifier() -> None:
    assert STATE_TABLE == "alembic_flask_env_expand"
    assert version_schema_name("ae1027a6acf") == "afe_v_ae1027a6acf"
    assert version_schema_name("Add-Users.2") == "afe_v_add_users_2"
    assert len(version_schema_name("x" * 100)) == 63


RETYPE = Step(
    "retype",
    "account",
    "public",
    "balance",
    type_sql="BIGINT",
    up="balance::bigint",
    old_type="integer",
    old_default="0",
    old_not_null=True,
    key="id",
    key_type="integer",
)


def test_a_type_change_adds_a_shadow_column_a_check_and_a_trigger() -> None:
    statements = expand_statements("b2", [RETYPE])
    assert statements[0] == (
        'ALTER TABLE "public"."account" ADD COLUMN "balance__afe_new" BIGINT'
    )
    assert statements[1] == (
        'ALTER TABLE "public"."account" ADD CONSTRAINT "afe_b2_0_nn"'
        ' CHECK ("balance__afe_new" IS NOT NULL) NOT VALID'
    )
    function = statements[2]
    assert function.startswith('CREATE FUNCTION "public"."afe_b2_0_sync"()')
    # The way back defaults to a cast to the old type, of the new value.
    assert (
        'NEW."balance" := (SELECT CAST("balance" AS integer) FROM'
        ' (SELECT NEW."balance__afe_new" AS "balance") AS afe_row)'
    ) in function
    assert "current_setting('alembic_flask_env.backfill', true) = 'on'" in function
    assert statements[3] == (
        'CREATE TRIGGER "afe_b2_0_sync" BEFORE INSERT OR UPDATE ON'
        ' "public"."account" FOR EACH ROW EXECUTE FUNCTION'
        ' "public"."afe_b2_0_sync"()'
    )


def test_renames_and_drops_are_only_views() -> None:
    steps = [
        Step("rename_column", "account", "public", "name", new_name="full_name"),
        Step("drop_column", "account", "public", "note"),
        Step("rename_table", "ledger", "public", new_name="journal"),
    ]
    assert expand_statements("b2", steps) == []
    columns: dict[tuple[str | None, str], list[str]] = {
        ("public", "account"): ["id", "name", "note", "balance"],
        ("public", "ledger"): ["id"],
    }
    assert view_statements("b2", steps, columns) == [
        'CREATE SCHEMA "afe_v_b2"',
        'CREATE VIEW "afe_v_b2"."account" AS SELECT "id", "name" AS "full_name",'
        ' "balance" FROM "public"."account"',
        'CREATE VIEW "afe_v_b2"."journal" AS SELECT "id" FROM "public"."ledger"',
    ]
    assert contract_statements("b2", steps, None)[:4] == [
        'DROP SCHEMA IF EXISTS "afe_v_b2" CASCADE',
        'ALTER TABLE "public"."account" RENAME COLUMN "name" TO "full_name"',
        'ALTER TABLE "public"."account" DROP COLUMN "note"',
        'ALTER TABLE "public"."ledger" RENAME TO "journal"',
    ]


def test_a_retyped_column_is_the_shadow_in_the_view_with_its_default() -> None:
    columns: dict[tuple[str | None, str], list[str]] = {
        ("public", "account"): ["id", "balance", "balance__afe_new"]
    }
    assert view_statements("b2", [RETYPE], columns)[1:] == [
        'CREATE VIEW "afe_v_b2"."account" AS SELECT "id", "balance__afe_new" AS'
        ' "balance" FROM "public"."account"',
        'ALTER VIEW "afe_v_b2"."account" ALTER COLUMN "balance" SET DEFAULT'
        " CAST((0) AS BIGINT)",
    ]


def test_contract_and_abort_of_a_type_change() -> None:
    assert contract_statements("b2", [RETYPE], None) == [
        'DROP SCHEMA IF EXISTS "afe_v_b2" CASCADE',
        'DROP TRIGGER IF EXISTS "afe_b2_0_sync" ON "public"."account"',
        'DROP FUNCTION IF EXISTS "public"."afe_b2_0_sync"()',
        'ALTER TABLE "public"."account" DROP COLUMN "balance"',
        'ALTER TABLE "public"."account" RENAME COLUMN "balance__afe_new" TO "balance"',
        'ALTER TABLE "public"."account" ALTER COLUMN "balance" SET DEFAULT'
        " CAST((0) AS BIGINT)",
        'ALTER TABLE "public"."account" ALTER COLUMN "balance" SET NOT NULL',
        'ALTER TABLE "public"."account" DROP CONSTRAINT "afe_b2_0_nn"',
        "DELETE FROM \"alembic_flask_env_expand\" WHERE revision = 'b2'",
        'DO $afe$ BEGIN IF NOT EXISTS (SELECT FROM "alembic_flask_env_expand")'
        ' THEN DROP TABLE "alembic_flask_env_expand"; END IF; END $afe$',
    ]
    assert abort_statements("b2", [RETYPE], "app")[3] == (
        'ALTER TABLE "public"."account" DROP COLUMN IF EXISTS "balance__afe_new"'
    )
    assert abort_statements("b2", [RETYPE], "app")[4] == (
        'DELETE FROM "app"."alembic_flask_env_expand" WHERE revision = \'b2\''
    )


def test_a_backfill_batch_records_its_progress_in_the_same_statement() -> None:
    fill = Step(
        "add_not_null",
        "account",
        None,
        "score",
        type_sql="INTEGER",
        fill="balance * 2",
        key="id",
        key_type="integer",
    )
    statement = backfill_statement("b2", 3, fill, None)
    assert statement.startswith(
        "WITH afe_flag AS (SELECT set_config('alembic_flask_env.backfill', 'on',"
        ' true)), afe_batch AS (SELECT "id" AS afe_key FROM "account", afe_flag WHERE'
        ' CAST(:last AS text) IS NULL OR "id" > CAST(:last AS integer)'
        ' ORDER BY "id" LIMIT :size), afe_changed AS (UPDATE "account" SET'
        ' "score" = balance * 2 FROM afe_batch WHERE "account"."id" ='
        ' afe_batch.afe_key AND "account"."score" IS NULL RETURNING 1)'
        ' UPDATE "alembic_flask_env_expand" SET progress = jsonb_set(progress,'
        " ARRAY['3'],"
    )
    assert "WHERE revision = :revision RETURNING" in statement


def test_the_progress_line() -> None:
    assert progress_line(
        "Backfill of t.c (revision b2)", 120_000, 1_000_000, 60_000, 1.0
    ) == (
        "Backfill of t.c (revision b2): 120000 of ~1000000 rows, 60000 rows/s, ETA 15 s"
    )
    assert (
        progress_line("B", 10, 5, 0, 0.0) == "B: 10 of ~10 rows, 0 rows/s, ETA unknown"
    )
