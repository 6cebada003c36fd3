"""An app with two databases, set up with 'flask db init --multidb'."""

from flask import Flask
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()
migrate = Migrate()


def create_app():
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///depot.db"
    app.config["SQLALCHEMY_BINDS"] = {"stock": "sqlite:///stock.db"}
    db.init_app(app)
    migrate.init_app(app, db)
    from . import models  # noqa: F401

    return app
