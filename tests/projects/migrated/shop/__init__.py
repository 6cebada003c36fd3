"""An app set up for Flask-Migrate, now migrated with plain alembic."""

import os

from flask import Flask
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()
migrate = Migrate()


def include_object(obj, name, type_, reflected, compare_to):
    return not (type_ == "table" and name == "scratch")


@migrate.configure
def configure_alembic(config):
    # Leave a mark that the callback ran, with the config it was given.
    marker = os.path.join(config.get_main_option("here", "") or ".", "callback-ran")
    with open(marker, "w") as file:
        file.write(config.config_file_name or "")
    return config


def create_app(database="shop.db"):
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{database}"
    db.init_app(app)
    migrate.init_app(app, db, render_as_batch=False, include_object=include_object)
    from . import models  # noqa: F401

    return app
