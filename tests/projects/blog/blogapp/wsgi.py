from blogapp import create_app

app = create_app("wsgi")
