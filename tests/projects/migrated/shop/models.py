from . import db


class Item(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(50), nullable=False)


class Scratch(db.Model):
    __tablename__ = "scratch"
    id = db.Column(db.Integer, primary_key=True)
