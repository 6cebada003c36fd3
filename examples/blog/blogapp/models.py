from datetime import datetime

from . import db


class Author(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(80), nullable=False, unique=True)


class Post(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    title = db.Column(db.String(200), nullable=False)
    body = db.Column(db.Text, nullable=False, default="")
    published_at = db.Column(db.DateTime, default=datetime.now)
    author_id = db.Column(db.ForeignKey("author.id"), nullable=False)
