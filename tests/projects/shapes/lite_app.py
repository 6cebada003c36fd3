"""Flask-SQLAlchemy-Lite: engines from the extension, metadata from Base."""

import os

from flask import Flask
from flask_sqlalchemy_lite import SQLAlchemy

db = SQLAlchemy()


def create_app():
    app = Flask(__name__)
    os.makedirs(app.instance_path, exist_ok=True)
    database = os.path.join(app.instance_path, "lite.db")
    app.config["SQLALCHEMY_ENGINES"] = {"default": f"sqlite:///{database}"}
    db.init_app(app)
    return app
