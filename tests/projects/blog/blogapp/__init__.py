import json
import logging
import os

from flask import Flask

from .extensions import db

log = logging.getLogger(__name__)


def create_app(config_name="default"):
    app = Flask(__name__)
    # A relative SQLite path is relative to app.instance_path ("instance/").
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ.get(
        "BLOGAPP_DATABASE_URI", f"sqlite:///{config_name}.db"
    )
    # Engine options a test gives (a deploy would set them in its config).
    options = {}
    if os.environ.get("BLOGAPP_ISOLATION_LEVEL"):
        options["isolation_level"] = os.environ["BLOGAPP_ISOLATION_LEVEL"]
    if os.environ.get("BLOGAPP_CONNECT_ARGS"):
        options["connect_args"] = json.loads(os.environ["BLOGAPP_CONNECT_ARGS"])
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    db.init_app(app)
    from . import models  # noqa: F401  (registers the tables on db.metadata)

    log.info("blogapp created with config %s", config_name)
    return app
