# Logging for Alembic and alembic_flask_env. Everything else, flask_app
# included, is under [tool.alembic] in pyproject.toml, which Alembic reads from
# the working directory only: from elsewhere, run
#   alembic -c /path/to/alembic.ini -c /path/to/pyproject.toml ...

[alembic]
# (Alembic needs this section to exist; a key set here wins over pyproject.toml.)

# Logging configuration, applied by alembic_flask_env without disabling the
# loggers your application has already created.
[loggers]
keys = root,sqlalchemy,alembic,alembic_flask_env

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = WARNING
handlers = console
qualname =

[logger_sqlalchemy]
level = WARNING
handlers =
qualname = sqlalchemy.engine

[logger_alembic]
level = INFO
handlers =
qualname = alembic

[logger_alembic_flask_env]
level = INFO
handlers =
qualname = alembic_flask_env

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic

[formatter_generic]
format = %(levelname)-5.5s [%(name)s] %(message)s
datefmt = %H:%M:%S
