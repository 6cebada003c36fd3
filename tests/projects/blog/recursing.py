"""The same, but without an app context: the command cannot know the app."""

from alembic import command
from blogapp import create_app as create_blog_app

from alembic_flask_env import alembic_config


def create_app():
    app = create_blog_app("recursing")
    command.upgrade(alembic_config(), "head")
    return app
