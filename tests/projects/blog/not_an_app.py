thing = "I am a string, not a Flask application"
