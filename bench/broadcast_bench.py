"""Deliver one announcement to N recipients through the local WeChat stand-in and print recipients/second.

    python bench/broadcast_bench.py [--recipients 10000] [--workers 2] [--database sqlite|postgresql]

Everything is real and on loopback: a fresh database, Redis (REDIS_URL, default db 14, emptied),
the stand-in (`nanhu fake-wechat`) and N `nanhu worker --burst` processes. The clock runs from the
relay queueing the deliveries to the last one recorded as sent. Target (issue 4): at least 500
recipients per second with 2 workers on a 2-core machine.
"""
from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import redis
import requests
from sqlalchemy import insert, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot import config as config_module  # noqa: E402  (needs ROOT on sys.path)
from bot import runtime  # noqa: E402
from jobs import outbox  # noqa: E402
from storage import migrate, notices  # noqa: E402
from storage.models import Resident  # noqa: E402
from storage.notices import Audience  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--channel", choices=["template", "mass"], default="template",
                        help="template: one template message per recipient; mass: mass send to openid lists")
    parser.add_argument("--check", action="store_true", help="exit 1 when under 500 recipients/second")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="nanhu-bench-"))
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14")
    redis.Redis.from_url(redis_url).flushdb()
    if args.database == "sqlite":
        db_url = f"sqlite:///{tmp}/bench.db"
    else:
        base = os.environ.get("NANHU_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
        from sqlalchemy import create_engine
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text("DROP DATABASE IF EXISTS nanhu_bench WITH (FORCE)"))
            c.execute(text("CREATE DATABASE nanhu_bench"))
        db_url = base.rsplit("/", 1)[0] + "/nanhu_bench"
    api_port = free_port()
    env = {**os.environ, "NANHU_CONFIG": str(ROOT / "config.example.toml"), "NANHU_DATABASE_URL": db_url,
           "NANHU_REDIS_URL": redis_url, "NANHU_WECHAT_API_BASE_URL": f"http://127.0.0.1:{api_port}/cgi-bin/",
           "NANHU_APP_LEXICON_LOG": "", "NANHU_APP_LOG_LEVEL": "WARNING",
           "NANHU_NOTICES_MASS_SEND_THRESHOLD": "2" if args.channel == "mass" else "0"}
    cfg = config_module.load(env=env)
    rt = runtime.build(cfg)
    runtime.set_process_default(rt)
    migrate.upgrade(rt.db)

    now = rt.now()
    with rt.db.transaction() as s:  # residents who have not written lately: template messages
        s.execute(insert(Resident), [{"openid": f"o_bench_{i:06d}", "subscribed": True, "created_at": now,
                                      "last_interaction_at": now - timedelta(days=3)}
                                     for i in range(args.recipients)])
    stand_in = subprocess.Popen([sys.executable, "-m", "cli", "fake-wechat", "--port", str(api_port)],
                                env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                requests.get(f"http://127.0.0.1:{api_port}/_fake/calls", timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.1)
        # the stand-in, like WeChat, delivers mass sends to followers only
        requests.post(f"http://127.0.0.1:{api_port}/_fake/subscribe", timeout=60,
                      json={"openids": [f"o_bench_{i:06d}" for i in range(args.recipients)]})
        started = time.monotonic()   # the announcement's commit queues its deliveries (jobs.outbox)
        with outbox.counting() as tally:
            notice_id = notices.announce(rt.db, "停水通知", "明天9点至12点停水，请提前储水。", Audience("everyone"),
                                         "staff:bench", rt.now())
        queued = tally.queued
        log = open(tmp / "workers.log", "w")
        workers = [subprocess.Popen([sys.executable, "-m", "cli", "worker", "--burst"], env=env, cwd=ROOT,
                                    stdout=log, stderr=log)
                   for _ in range(args.workers)]
        for w in workers:
            w.wait()
        elapsed = time.monotonic() - started
        report = notices.report(rt.db, notice_id)
        recorded = len(requests.get(f"http://127.0.0.1:{api_port}/_fake/messages", timeout=30).json())
    finally:
        stand_in.terminate()
        stand_in.wait()
    rate = report.sent / elapsed if elapsed else 0.0
    print(f"broadcast to {args.recipients} recipients by {args.channel} ({args.database}, {args.workers} workers, "
          f"batch {cfg.notices.batch_size}): queued {queued}")
    print(f"  sent {report.sent}, failed {sum(report.failed.values())}, pending {report.pending}; "
          f"messages at the stand-in: {recorded}")
    print(f"  worker log: {tmp / 'workers.log'}")
    print(f"  {elapsed:.1f} s  →  {rate:.0f} recipients/second (target ≥ 500)")
    return 1 if args.check and (rate < 500 or report.sent != args.recipients) else 0


if __name__ == "__main__":
    sys.exit(main())
