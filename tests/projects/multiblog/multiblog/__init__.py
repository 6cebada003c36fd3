import json
import os

from flask import Flask
from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()


def create_app():
    app = Flask(__name__)
    # Relative SQLite paths are relative to app.instance_path ("instance/").
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ.get(
        "MULTIBLOG_DATABASE_URI", "sqlite:///main.db"
    )
    app.config["SQLALCHEMY_BINDS"] = {
        "users": os.environ.get("MULTIBLOG_USERS_URI", "sqlite:///users.db"),
        # More binds a test gives.
        **json.loads(os.environ.get("MULTIBLOG_EXTRA_BINDS", "{}")),
    }
    db.init_app(app)
    from . import models  # noqa: F401

    return app
