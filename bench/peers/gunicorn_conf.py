"""gunicorn settings for the bench's peer apps: nanhu's own (deploy/gunicorn_conf.py), less what its post_fork
hook starts.

`bench/webhook_bench.py` serves every row with the same worker class, threads, keep-alive, timeouts,
preloading and CPU pinning (NANHU_PIN_WORKERS) as nanhu; only nanhu's runtime and outbox sweeper, started in
its post_fork, do not apply to a peer. The bench passes `--workers 2 --bind 127.0.0.1:PORT` on the command
line to every row alike.
"""
from deploy import gunicorn_conf as _nanhu

preload_app = _nanhu.preload_app
workers = _nanhu.workers
worker_class = _nanhu.worker_class
threads = _nanhu.threads
timeout = _nanhu.timeout
graceful_timeout = _nanhu.graceful_timeout
keepalive = _nanhu.keepalive
accesslog = None
control_socket_disable = True
pre_fork = _nanhu.pre_fork


def post_fork(server, worker):
    _nanhu.pin(worker)
