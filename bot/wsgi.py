"""WSGI entry point: `gunicorn --preload bot.wsgi:app`. Configuration from NANHU_CONFIG."""
from bot.app import create_app

app = create_app()
