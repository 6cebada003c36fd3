"""The blog's tenants, in the shapes flask_tenants takes, and in bad ones.

BLOG_TENANTS lists the names (comma-separated); databases() puts each in a
SQLite file under BLOG_TENANT_DIR, or on the server of BLOG_TENANT_SERVER
(a URL whose database name is replaced by the tenant's).
"""

import json
import os

from blogapp.extensions import db
from sqlalchemy import text
from sqlalchemy.engine import make_url


def _names():
    return [name for name in os.environ.get("BLOG_TENANTS", "").split(",") if name]


def schemas():
    # A generator: the tenants are streamed, as from a large control table.
    yield from _names()


def databases():
    server = os.environ.get("BLOG_TENANT_SERVER")
    if server:
        return {
            name: make_url(server).set(database=f"{make_url(server).database}_{name}")
            for name in _names()
        }
    folder = os.environ.get("BLOG_TENANT_DIR", "tenants")
    return {name: f"sqlite:///{folder}/{name}.db" for name in _names()}


def from_control_table():
    """The app's own table of tenants, read through its session."""
    rows = db.session.execute(text("SELECT schema_name FROM tenant ORDER BY id"))
    return [row[0] for row in rows]


def raising():
    raise LookupError("the tenants service is down")


def a_number():
    return 42


def duplicated():
    return ["acme", "beta", "acme"]


def bad_schema():
    return ["acme", "Robert'); DROP TABLE students;--"]


def bad_url():
    return {"acme": "postgresql://admin:hunter2@db.internal:notaport/acme"}


not_callable = ["acme"]


def urls():
    """BLOG_TENANT_URLS: a JSON object of tenant name to database URL."""
    return json.loads(os.environ["BLOG_TENANT_URLS"])


def failing_midway():
    """A generator whose control table goes away after two tenants."""
    yield "acme"
    yield "beta"
    raise ConnectionError("the control table went away")


def one_database_twice():
    """Two names for one SQLite file (one spelled relative, one absolute)."""
    folder = os.environ.get("BLOG_TENANT_DIR", "tenants")
    return {
        "acme": f"sqlite:///{os.path.relpath(folder)}/shared.db",
        "beta": f"sqlite+pysqlite:///{os.path.abspath(folder)}/shared.db",
    }
