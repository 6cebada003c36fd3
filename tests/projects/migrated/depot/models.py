from . import db


class Order(db.Model):
    id = db.Column(db.Integer, primary_key=True)


class Pallet(db.Model):
    __bind_key__ = "stock"
    id = db.Column(db.Integer, primary_key=True)
