"""Celery entry point: ``celery -A arbiter.worker worker`` / ``celery -A arbiter.worker beat``."""

from arbiter import create_app

flask_app = create_app()
celery = flask_app.extensions["celery"]
