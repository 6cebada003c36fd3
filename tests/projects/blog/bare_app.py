"""The blog's database without its models: nothing imports blogapp.models."""

import os

from blogapp.extensions import db
from flask import Flask


def create_app():
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ.get(
        "BLOGAPP_DATABASE_URI", "sqlite:///default.db"
    )
    db.init_app(app)
    return app
