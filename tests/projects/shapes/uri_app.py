"""Plain SQLAlchemy with the URI from the environment, as deploys set it."""

import os

from flask import Flask


def create_app():
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["SHAPES_DATABASE_URI"]
    return app
