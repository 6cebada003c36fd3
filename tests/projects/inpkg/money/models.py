from . import db


class Bill(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    what = db.Column(db.String(200), nullable=False)
