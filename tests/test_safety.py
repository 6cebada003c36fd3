"""Passwords, '%' in URLs, and the app's loggers."""

from __future__ import annotations

from harness import BLOG_TABLES
from harness import Project

PASSWORD = "p%ss@w:rd"
ENCODED_PASSWORD = "p%25ss%40w%3Ard"


def test_percent_in_password_offline_and_never_printed(blog: Project) -> None:
    """The old env.py recipe (set_main_option('sqlalchemy.url', ...)) fails on
    the '%'; we hand Alembic the URL object instead. No server is needed
    offline, so the host does not exist.
    """
    blog.alembic("revision", "-m", "empty")
    blog.env["BLOGAPP_DATABASE_URI"] = (
        f"postgresql+psycopg://migrator:{ENCODED_PASSWORD}@db.invalid:5432/blog"
    )
    result = blog.alembic("upgrade", "head", "--sql")
    assert "CREATE TABLE alembic_version" in result.stdout
    output = blog.output(result)
    assert "postgresql+psycopg://migrator:***@db.invalid:5432/blog" in output
    assert PASSWORD not in output
    assert ENCODED_PASSWORD not in output


def test_percent_in_sqlite_path_online(blog: Project) -> None:
    database = blog.root / "instance" / "50%off.db"
    database.parent.mkdir()
    blog.env["BLOGAPP_DATABASE_URI"] = f"sqlite:///{database}"
    blog.alembic("revision", "--autogenerate", "-m", "init")
    blog.alembic("upgrade", "head")
    assert blog.tables("50%off.db") == BLOG_TABLES


def test_app_loggers_keep_working_after_migrating_from_python(blog: Project) -> None:
    """Migrations run from the app's own code (start-up, fixtures) must not
    disable the loggers that already exist, as a plain fileConfig() would.
    """
    blog.alembic("revision", "--autogenerate", "-m", "init")
    script = blog.root / "migrate_at_startup.py"
    script.write_text(
        "import logging\n"
        "from alembic import command\n"
        "from alembic.config import Config\n"
        "app_logger = logging.getLogger('blogapp.startup')\n"
        "command.upgrade(Config('alembic.ini'), 'head')\n"
        "assert not app_logger.disabled, 'the app logger was disabled'\n"
        "print('logger enabled')\n"
    )
    assert blog.python(str(script)).stdout.strip() == "logger enabled"
    assert blog.tables() == BLOG_TABLES
