"""A small Flask app with an application factory and Flask-SQLAlchemy."""

from flask import Flask
from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()


def create_app(config_name: str = "development") -> Flask:
    app = Flask(__name__)
    # Relative SQLite paths live in the app's instance folder.
    app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///blog-{config_name}.db"
    db.init_app(app)

    # Import the models so that their tables are on db.metadata, which is what
    # "alembic revision --autogenerate" compares the database with.
    from . import models  # noqa: F401

    return app
