"""rq-dashboard for watching the queues, served on loopback only (`nanhu queues dashboard`).

It has no login of its own, so it never listens beyond this machine; reach it from elsewhere through
an SSH tunnel. The admin web's announcement pages show each notice's delivery report.
"""
from __future__ import annotations

import flask
import rq_dashboard

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def create_app(redis_url: str) -> flask.Flask:
    app = flask.Flask(__name__)
    app.config.from_object(rq_dashboard.default_settings)
    app.config["RQ_DASHBOARD_REDIS_URL"] = [redis_url]
    rq_dashboard.web.setup_rq_connection(app)
    app.register_blueprint(rq_dashboard.blueprint, url_prefix="/rq")
    return app
