"""Plain SQLAlchemy with a relative SQLite path in its URI."""

from flask import Flask


def create_app():
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///relative.db"
    return app
