"""The Flask app factory: webhook, health check, and the runtime it serves."""
from __future__ import annotations

import logging
from datetime import timedelta

from flask import Flask, jsonify
from flask.sessions import SecureCookieSessionInterface

import nlp
from bot import config as config_module
from bot import logs
from bot import runtime as runtime_module
from bot.chat.router import Router
from bot.config import Config
from bot.runtime import Runtime
from bot.webhook.receiver import MAX_BODY, Webhook
from web.admin import bp as admin_bp
from web.public import pages_bp, public_bp

log = logging.getLogger("nanhu")


def _check_schema(rt: Runtime) -> None:
    """Refuse to start on an unmigrated database; start anyway (and say so) if it is unreachable."""
    from storage import migrate

    try:
        migrate.require_current(rt.db)
    except migrate.SchemaOutdated:
        raise
    except Exception as exc:
        log.error("database unreachable at start-up (%s); residents get an apology until it is back",
                  type(exc).__name__)


def _check_templates(config: Config) -> None:
    from storage.notices import KINDS

    missing = [kind for kind in KINDS if kind not in config.notices.templates]
    if missing:
        log.warning("notices.templates has no template for %s: residents who have not written in the last "
                    "48 hours will not receive these", ", ".join(missing))


class AdminOnlySessions(SecureCookieSessionInterface):
    """Sessions are for the admin web only: elsewhere (the webhook above all) no cookie is read or signed."""

    def open_session(self, app, request):
        if not request.path.startswith("/admin"):
            return None  # Flask uses a null session, and saves nothing
        return super().open_session(app, request)


def client_address(environ: dict, proxies: tuple) -> str:
    """The visitor's address behind the trusted proxies (app.trusted_proxies): X-Forwarded-For is read
    from the right, past the proxies, and only when the request came from one; anyone else's header is
    ignored, so a visitor cannot pick the address their login attempts are counted under."""
    peer = environ.get("REMOTE_ADDR", "")
    if not config_module.is_trusted_proxy(peer, proxies):
        return peer
    hops = [h.strip() for h in environ.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
    for address in reversed(hops):
        if not config_module.is_trusted_proxy(address, proxies):
            return address
    return hops[0] if hops else peer


def build_router() -> Router:
    """The chat's root router: every handler module's router, in the order they are asked."""
    from bot.chat import clarify
    from handlers import announcements, events, help, notices, opinions, party, projects

    root = Router("nanhu")
    for module in (clarify, help, opinions, events, party, projects, notices, announcements):
        root.include(module.router)
    return root


def create_app(config: Config | None = None, rt: Runtime | None = None, router: Router | None = None) -> Flask:
    config = config or (rt.config if rt else config_module.load())
    logs.setup(config.app.log_level, config.app.lexicon_log)
    rt = rt or runtime_module.build(config)
    _check_schema(rt)
    _check_templates(config)
    runtime_module.set_process_default(rt)
    if router is None:
        router = build_router()
    nlp.load()  # jieba, OpenCC and the lexicon load here, at import (gunicorn preload), not on a first message

    app = Flask(__name__)
    # MAX_CONTENT_LENGTH: the site's pages (the webhook has its own); the admin's CSV import raises it
    app.config.update(MAX_CONTENT_LENGTH=MAX_BODY + 1,
                       SECRET_KEY=config.app.secret_key, JSON_AS_ASCII=False,
                       SESSION_COOKIE_NAME="nanhu_admin", SESSION_COOKIE_PATH="/admin",
                       SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                       SESSION_COOKIE_SECURE=config.app.base_url.startswith("https://"),
                       PERMANENT_SESSION_LIFETIME=timedelta(hours=12))
    app.session_interface = AdminOnlySessions()
    app.register_blueprint(pages_bp)
    app.register_blueprint(public_bp)
    app.register_blueprint(admin_bp)

    @app.get("/healthz")
    def healthz():
        report, ok = {}, True
        try:
            rt.db.ping()
            report["database"] = "ok"
        except Exception as exc:
            report["database"], ok = f"unreachable: {type(exc).__name__}", False
        if rt.redis is None:
            report["redis"] = "not configured (jobs run in the web process)"
        else:
            try:
                rt.redis.ping()
                report["redis"] = "ok"
            except Exception as exc:
                report["redis"], ok = f"unreachable: {type(exc).__name__}", False
        report["jobs"] = rt.jobs.kind
        return jsonify(status="ok" if ok else "degraded", **report), 200 if ok else 503

    site = app.wsgi_app
    proxies = config_module.proxy_networks(config.app.trusted_proxies)

    def site_in_runtime(environ, start_response):  # pages reach it as every job does: bot.runtime.current()
        if proxies:
            environ["REMOTE_ADDR"] = client_address(environ, proxies)
        with runtime_module.use(rt):
            return site(environ, start_response)

    app.wsgi_app = Webhook(rt, router, site_in_runtime)  # /wechat, in front of the site
    return app
