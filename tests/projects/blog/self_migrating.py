"""A factory that upgrades its own database on start-up, a common pattern."""

from alembic import command
from blogapp import create_app as create_blog_app

from alembic_flask_env import alembic_config


def create_app():
    app = create_blog_app("self_migrating")
    with app.app_context():
        command.upgrade(alembic_config(), "head")
    return app
