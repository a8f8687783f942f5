"""Deployment settings: gunicorn's configuration (`gunicorn -c python:deploy.gunicorn_conf`)."""
