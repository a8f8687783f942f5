"""gunicorn settings for the bench's peer apps: nanhu's own (bot/gunicorn_conf.py), less its post_fork hook.

`bench/webhook_bench.py` serves every row with the same worker class, threads, keep-alive, timeouts and
preloading as nanhu; only nanhu's post_fork (its runtime and outbox sweeper) does not apply to a peer.
The bench passes `--workers 2 --bind 127.0.0.1:PORT` on the command line to every row alike.
"""
from bot import gunicorn_conf as _nanhu

preload_app = _nanhu.preload_app
workers = _nanhu.workers
worker_class = _nanhu.worker_class
threads = _nanhu.threads
timeout = _nanhu.timeout
graceful_timeout = _nanhu.graceful_timeout
keepalive = _nanhu.keepalive
accesslog = None
control_socket_disable = True
