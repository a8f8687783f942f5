"""gunicorn settings for nanhu (`gunicorn -c python:bot.gunicorn_conf bot.wsgi:app`)."""
import os

preload_app = True          # jieba, OpenCC and the lexicon load once, before the workers fork
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# threads, not sync workers: a client that opens a connection and sends its body slowly holds one
# thread, not a whole worker. In production put a buffering reverse proxy (nginx) in front as well.
worker_class = "gthread"
threads = int(os.environ.get("NANHU_THREADS", "16"))
timeout = 30
graceful_timeout = 10
keepalive = 5
bind = os.environ.get("NANHU_BIND", "127.0.0.1:8000")
accesslog = "-" if os.environ.get("NANHU_ACCESS_LOG") else None  # off: query strings carry openids
# one control socket per user by default: two deployments (or a test beside `make run`) would collide
control_socket_disable = True


def post_fork(server, worker):
    from bot import runtime, sweeper, webhook

    rt = runtime.current()
    rt.after_fork()
    webhook.start_handlers(rt)
    if rt.jobs.kind == "in-process":  # no worker process: the web workers sweep the outbox themselves
        sweeper.start(rt)
