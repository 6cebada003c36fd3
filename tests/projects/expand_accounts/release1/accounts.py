"""Release 1 of the accounts app: the column is ``name``, the balance an int."""

import json
import os

from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from alembic_flask_env import VersionedSchema

db = SQLAlchemy()
#: The attribute the client writes and reads the account's name under.
NAME = "name"


class Account(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(100))
    balance = db.Column(db.Integer)


def create_app():
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["ACCOUNTS_DATABASE_URI"]
    app.config["SQLALCHEMY_BINDS"] = json.loads(os.environ.get("ACCOUNTS_BINDS", "{}"))
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = json.loads(
        os.environ.get("ACCOUNTS_ENGINE_OPTIONS", "{}")
    )
    db.init_app(app)
    VersionedSchema(
        app,
        directory=os.path.join(os.path.dirname(__file__), "migrations"),
        transaction_pooling=bool(os.environ.get("ACCOUNTS_TRANSACTION_POOLING")),
    )
    return app
