"""gunicorn settings for nanhu (`gunicorn -c python:deploy.gunicorn_conf bot.wsgi:app`)."""
import os


def _on(name: str) -> bool:
    from bot.config import env_flag

    value = os.environ.get(name, "").strip()
    try:
        return bool(value) and env_flag(value)
    except ValueError:
        raise ValueError(f"{name}={value!r}: expected 1 or 0") from None


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
# each worker on a CPU of its own (README, "Deploying"): off by default, since containers on one host would all
# pick the same CPUs
pin_workers = _on("NANHU_PIN_WORKERS")
if pin_workers and not hasattr(os, "sched_setaffinity"):
    raise ValueError("NANHU_PIN_WORKERS=1: this system cannot keep a process on a CPU (Linux can)")


def least_used_cpu(taken: list, allowed: list[int]) -> int:
    """Of the `allowed` CPUs, the one fewest of the other workers (`taken`: their CPUs, None for unpinned)
    are on; the lowest such."""
    return min(allowed, key=lambda cpu: (taken.count(cpu), cpu))


def pre_fork(server, worker):
    """In the arbiter: a CPU for the worker about to start, the one the fewest live workers have (a worker that
    replaces one that died takes the CPU it leaves)."""
    if pin_workers:
        worker.nanhu_cpu = least_used_cpu([getattr(w, "nanhu_cpu", None) for w in server.WORKERS.values()],
                                          sorted(os.sched_getaffinity(0)))


def pin(worker) -> None:
    """Keep this worker and every thread it starts on its CPU: a push's hand-off to a handler thread and back
    then wakes a thread on the CPU it runs on, with no interrupt sent to another (dear in a virtual machine)."""
    cpu = getattr(worker, "nanhu_cpu", None)
    if cpu is None:
        return
    try:  # the CPU may have left the service's set since pre_fork (a cpuset changed): run unpinned, never fail
        os.sched_setaffinity(0, {cpu})
    except OSError as exc:
        worker.log.warning("NANHU_PIN_WORKERS: could not keep the worker on CPU %s (%s): it runs unpinned", cpu, exc)


def post_fork(server, worker):
    pin(worker)  # first: threads started from here on share its CPU
    from bot import runtime
    from bot.webhook import receiver as webhook
    from jobs import sweeper

    rt = runtime.current()
    rt.after_fork()
    webhook.start_handlers(rt)
    if rt.jobs.kind == "in-process":  # no worker process: the web workers sweep the outbox themselves
        sweeper.start(rt)
