"""FlaskBB's layout: Flask-Alembic, revisions in the package, no env.py."""

from flask import Flask
from flask_alembic import Alembic
from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()
alembic = Alembic()


def create_app():
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///board.db"
    db.init_app(app)
    alembic.init_app(app)  # revisions in board/migrations (its default)
    from . import models  # noqa: F401

    return app
