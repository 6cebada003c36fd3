from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column


class Base(DeclarativeBase):
    pass


class Gadget(Base):
    __tablename__ = "gadget"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))


not_metadata = "a string"

# A settings object of the kind apps keep next to their models: its repr
# would print the secrets.
import flask  # noqa: E402

settings = flask.Config(".", {"SECRET_KEY": "k3y-never-printed"})
