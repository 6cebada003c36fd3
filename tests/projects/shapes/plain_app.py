"""Plain SQLAlchemy: only SQLALCHEMY_DATABASE_URI in the config."""

import os

from flask import Flask


def create_app():
    app = Flask(__name__)
    os.makedirs(app.instance_path, exist_ok=True)
    database = os.path.join(app.instance_path, "plain.db")
    app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{database}"
    return app
