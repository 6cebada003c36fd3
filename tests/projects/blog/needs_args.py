from blogapp import create_app as _create


def create_app(config_name):
    return _create(config_name)
