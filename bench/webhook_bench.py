"""The webhook under load: nanhu against a bare Flask app, wechatpy and WeRoBot (issue 9).

    python bench/webhook_bench.py [--rounds 3] [--duration 8] [--warmup 3] [--connections 8]
                                  [--backend sqlite|redis|both] [--check]
    python bench/webhook_bench.py --soak MINUTES          # nanhu + Redis + RQ worker at half capacity
    python bench/webhook_bench.py --profile SECONDS       # py-spy on nanhu's workers during row (d)
    python bench/webhook_bench.py --rows e --spy e [--profile-mode cpu|active|wall]   # py-spy during any row

Rows, served one after another on 127.0.0.1:PORT (8400-8499) by gunicorn with nanhu's own settings
(deploy/gunicorn_conf.py: gthread, 16 threads, keep-alive 5 s, preloaded) and 2 workers, each worker kept on a
CPU of its own (NANHU_PIN_WORKERS=1; --no-pin leaves them to the scheduler):

  (a) flask      a bare Flask app: signature check, fixed reply            bench/peers/flask_echo.py
  (b) wechatpy   wechatpy's echo bot on Flask (the reference, ratio 1.00)  bench/peers/wechatpy_echo.py
  (c) werobot    WeRoBot 1.13.1's echo bot with its defaults               bench/peers/werobot_echo.py
  (c') werobot   the same with sessions off: WeRoBot's default session      bench/peers/werobot_echo_nosession.py
                 storage (one SQLite connection shared by all threads) fails under threaded workers
  (d) nanhu      `帮助` from 400 residents (8 connections x 50 openids each)
  (e) nanhu      the opinion confirm turn `是`: every measured request files an opinion (a row in
                 opinions, one in audit_log, the day's ticket counter) for a fresh resident

(e) in detail: before the server starts, N residents are created with a community (storage models,
one transaction); once it is up, each says 「楼下垃圾三天没人清理」 through the webhook (untimed; the
words name a place and the community is known, so the bot answers with the summary), and the timed
requests are each resident's 「是」, answered with a ticket number. N comes from row (d)'s rate, and
priming stops after 40 s so that every 是 comes within a minute of its summary, as it would in a
conversation; if the primed residents run out early the window ends there and the row says so.

nanhu runs on its embedded default (a fresh SQLite file, no Redis); --backend redis runs rows (d) and (e)
with Redis (redis://127.0.0.1:6379/12, emptied first) as the shared store and RQ as the queue instead,
--redis (= --backend both) with each.
--postgres URL runs (d) and (e) once more on PostgreSQL with Redis, the production setup, in a database of
its own on loopback named nanhu_bench... (dropped and created again).

The load generator is one thread per keep-alive HTTP/1.1 connection on raw sockets, sending requests
signed in advance (a fresh nonce, timestamp and MsgId each: nanhu refuses replays) and checking each
reply's content, not only its status: an apology with status 200 is an error, and req/s counts correct
replies only. Latency is from the first byte sent to the last byte of the reply. The generator shares
the machine's cores with the server, so compare rows with each other (the ratio to (b)), not with
other machines.

Rounds: every row runs once per round, in the same order, `--rounds` times (3 by default), and the table
gives each row's median round: req/s and p50/p99 as the median of the rounds, the ratio to (b) as the
median of each round's ratio to that round's (b); errors summed, first request and memory the worst
round's. On a shared machine the speed drifts by 15 % or more over a minute; a row is compared with a
(b) measured a minute or two before it, three times over, rather than once with a (b) measured minutes
away.

Also per row: the first request after the workers start (a fresh server, a fresh connection; (e)'s is
its first priming turn), and the resident memory (VmRSS, /proc/PID/status) of the largest worker
after the run. Targets (issue 9) are printed PASS/FAIL; --check exits 1 when one fails.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median
from typing import Callable, Iterator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devtools.simulator import message_xml, sha1_signature, text_fields  # noqa: E402  (needs ROOT on sys.path)

PY = sys.executable
TOKEN = "nanhudemotoken"            # config.example.toml, plain mode
REDIS_URL = "redis://127.0.0.1:6379/12"
PORTS = range(8400, 8500)

HELP, OPINION, YES, COMMUNITY = "帮助", "楼下垃圾三天没人清理", "是", "1"
HELP_REPLY = "您可以直接发消息给我".encode()
ASK_COMMUNITY = "请问您住在哪个社区".encode()
SUMMARY = "请确认您反映的问题".encode()
TICKET = "工单号".encode()

# issue 9
TARGET_D_VS_B = 0.6
TARGET_D_VS_C = 2.5
TARGET_E_VS_B = 0.4
TARGET_P99_MS = 30.0
TARGET_FIRST_MS = 100.0
TARGET_RSS_MB = 150.0
TARGET_SOAK_GROWTH_PCT = 10.0

# (e): each resident's 是 comes within a minute of their summary, as in a conversation; a slower answer
# would also pay the once-a-minute write of the resident's last interaction (storage/residents.py)
PRIME_SECONDS = 40

PEER_CONF = str(ROOT / "bench" / "peers" / "gunicorn_conf.py")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --- requests: signed as WeChat signs them ---------------------------------------------------------

class Signer:
    """Raw HTTP/1.1 requests for /wechat, each with its own nonce, timestamp, signature and MsgId."""

    def __init__(self, port: int):
        self.host = f"127.0.0.1:{port}"
        self._nonces = itertools.count(random.randrange(10**8) * 10**9)
        self._msg_ids = itertools.count(int(time.time() * 1000) * 1000 + random.randrange(1000))

    def request(self, openid: str, text: str) -> bytes:
        ts = int(time.time())
        nonce = str(next(self._nonces))
        body = message_xml(text_fields(openid, text, msg_id=next(self._msg_ids), create_time=ts)).encode()
        path = f"/wechat?signature={sha1_signature(TOKEN, str(ts), nonce)}&timestamp={ts}&nonce={nonce}&openid={openid}"
        return (f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: text/xml\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode() + body


Item = tuple[bytes, bytes]  # the raw request, a fragment its reply must contain


class Conn:
    """One keep-alive HTTP/1.1 connection on a raw socket: send a request, read one response."""

    def __init__(self, port: int):
        self.port = port
        self.sock: socket.socket | None = None
        self.buf = b""
        self.opened = 0

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
        self.sock, self.buf = None, b""

    def exchange(self, raw: bytes) -> tuple[int, bytes]:
        if self.sock is None:
            self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.opened += 1
        self.sock.sendall(raw)
        status, body, keep = self._response()
        if not keep:
            self.close()
        return status, body

    def _recv(self) -> bytes:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed mid-response")
        return chunk

    def _response(self) -> tuple[int, bytes, bool]:
        buf = self.buf
        while (end := buf.find(b"\r\n\r\n")) < 0:
            buf += self._recv()
        lines = buf[:end].decode("latin-1").split("\r\n")
        rest = buf[end + 4:]
        status = int(lines[0].split(" ", 2)[1])
        keep = not lines[0].startswith("HTTP/1.0")
        length, chunked = None, False
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding":
                chunked = "chunked" in value
            elif name == "connection":
                keep = value != "close"
        if chunked:
            body = b""
            while True:
                while (eol := rest.find(b"\r\n")) < 0:
                    rest += self._recv()
                size = int(rest[:eol].split(b";")[0], 16)
                while len(rest) < eol + 2 + size + 2:
                    rest += self._recv()
                body += rest[eol + 2:eol + 2 + size]
                rest = rest[eol + 2 + size + 2:]
                if size == 0:
                    break
        elif length is not None:
            while len(rest) < length:
                rest += self._recv()
            body, rest = rest[:length], rest[length:]
        else:  # no length: the body runs to the end of the connection
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                rest += chunk
            body, rest, keep = rest, b"", False
        self.buf = rest
        return status, body, keep


# --- the load generator ------------------------------------------------------------------------------

@dataclass
class Load:
    latencies: list[float] = field(default_factory=list)   # ms, measured window only
    errors: int = 0                                          # measured window
    warmup_errors: int = 0
    samples: list[str] = field(default_factory=list)         # the first few errors, for the report
    window: float = 0.0                                      # seconds the measured window lasted
    exhausted_at: float | None = None                        # seconds into the window the pool ran out
    connections_opened: int = 0
    sent: int = 0                                            # every request, warm-up included

    @property
    def count(self) -> int:
        return len(self.latencies)

    @property
    def rps(self) -> float:
        """Correct replies per second: an error (a 200 with an apology or an empty body too) does not count."""
        return (self.count - self.errors) / self.window if self.window else 0.0

    def pct(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def run_load(port: int, sources: list[Iterator[Item]], warmup: float, duration: float,
             pace: float | None = None, tick: Callable[[float], None] | None = None, tick_every: float = 10.0,
             stop_all_when_one_runs_out: bool = True) -> Load:
    """One thread per source/connection, closed loop (or one request per `pace` seconds per connection),
    for `warmup` then `duration` seconds. Bounded: every thread stops at the deadline. A finite source
    ends the measured window for every connection when it runs out (so that the window is the same for
    all), unless `stop_all_when_one_runs_out` is off (priming: each connection works through its list)."""
    result = Load()
    lock = threading.Lock()
    stop = threading.Event()
    start = time.perf_counter()
    measure_from = start + warmup
    deadline = measure_from + duration
    ended = [deadline]

    def worker(source: Iterator[Item]) -> None:
        conn = Conn(port)
        lat: list[float] = []
        errors = warm_errors = sent = 0
        samples: list[str] = []
        clock = time.perf_counter
        next_send = clock()
        try:
            while not stop.is_set():
                if pace is not None:
                    delay = next_send - clock()
                    if delay > 0:
                        time.sleep(delay)
                    next_send += pace
                t0 = clock()
                if t0 >= deadline:
                    break
                try:
                    raw, expect = next(source)
                except StopIteration:
                    if not stop_all_when_one_runs_out:
                        break
                    with lock:
                        if not stop.is_set():
                            ended[0] = min(ended[0], t0)
                            result.exhausted_at = t0 - measure_from
                            stop.set()
                    break
                error = None
                try:
                    status, body = conn.exchange(raw)
                    if status != 200 or expect not in body:
                        error = f"HTTP {status}: {body[:160].decode('utf-8', 'replace')!r}"
                except (OSError, ValueError) as exc:
                    conn.close()
                    error = f"{type(exc).__name__}: {exc}"
                t1 = clock()
                sent += 1
                if t0 >= measure_from:
                    lat.append((t1 - t0) * 1000)
                    if error:
                        errors += 1
                elif error:
                    warm_errors += 1
                if error and len(samples) < 3:
                    samples.append(error)
        finally:
            conn.close()
            with lock:
                result.latencies.extend(lat)
                result.errors += errors
                result.warmup_errors += warm_errors
                result.samples.extend(samples[: max(0, 5 - len(result.samples))])
                result.connections_opened += conn.opened
                result.sent += sent

    threads = [threading.Thread(target=worker, args=(s,), daemon=True) for s in sources]
    for t in threads:
        t.start()
    next_tick = measure_from + tick_every
    while any(t.is_alive() for t in threads):
        for t in threads:
            t.join(timeout=0.5)
        if tick and next_tick <= time.perf_counter() < deadline:  # samples under load only
            tick(time.perf_counter() - measure_from)
            next_tick += tick_every
        if time.perf_counter() > deadline + 30:  # a request hung past its socket timeout: give up on it
            stop.set()
            break
    result.window = max(0.0, min(ended[0], deadline) - measure_from)
    return result


def single(port: int, item: Item) -> tuple[float, str | None]:
    """One request on a fresh connection: (milliseconds, error or None)."""
    conn = Conn(port)
    raw, expect = item
    t0 = time.perf_counter()
    try:
        status, body = conn.exchange(raw)
        error = None if status == 200 and expect in body else f"HTTP {status}: {body[:160]!r}"
    except (OSError, ValueError) as exc:
        error = f"{type(exc).__name__}: {exc}"
    finally:
        conn.close()
    return (time.perf_counter() - t0) * 1000, error


def pooled(build: Callable[[int], Item], size: int) -> Iterator[Item]:
    """`size` requests built now, before the clock runs; then built on the fly if the run outlasts them."""
    pool = [build(i) for i in range(size)]
    return itertools.chain(pool, (build(i) for i in itertools.count(size)))


# --- servers -----------------------------------------------------------------------------------------

def proc_children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry))
    return sorted(out)


def proc_cpu(pid: int) -> float:
    """User + system CPU seconds of a process so far (/proc/PID/stat), 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_status(pid: int, key: str) -> int:
    """A kB figure from /proc/PID/status (VmRSS, VmHWM), 0 if the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def proc_pss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def proc_fds(pid: int) -> tuple[int, int]:
    """(open file descriptors, of which sockets)."""
    fds = socks = 0
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            fds += 1
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:"):
                    socks += 1
            except OSError:
                pass
    except OSError:
        pass
    return fds, socks


def port_busy(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


class Server:
    """gunicorn started in its own session; stopped by its pid (then its own process group)."""

    def __init__(self, name: str, app: str, conf: str, port: int, env: dict[str, str], cwd: Path, logdir: Path):
        self.name, self.port = name, port
        self.argv = [PY, "-m", "gunicorn", "-c", conf, "--workers", "2", "--bind", f"127.0.0.1:{port}", app]
        self.env, self.cwd = env, cwd
        self.log_path = logdir / f"{re.sub(r'[^a-z0-9]+', '-', name.lower())}.log"
        self.proc: subprocess.Popen | None = None
        self.boot_seconds = 0.0

    def start(self, timeout: float = 60) -> None:
        if port_busy(self.port):
            raise SystemExit(f"port {self.port} is already in use: choose another with --port (8400-8499)")
        t0 = time.perf_counter()
        with open(self.log_path, "wb") as out:
            self.proc = subprocess.Popen(self.argv, cwd=self.cwd, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        while time.perf_counter() - t0 < timeout:
            if self.proc.poll() is not None:
                raise SystemExit(f"{self.name}: gunicorn exited ({self.proc.returncode}); see {self.log_path}:\n"
                                 + self.log_path.read_text(errors="replace")[-2000:])
            booted = len(re.findall(r"Booting worker with pid", self.log_path.read_text(errors="replace")))
            if booted >= 2 and len(self.workers()) >= 2 and port_busy(self.port):
                self.boot_seconds = time.perf_counter() - t0
                time.sleep(0.5)  # post_fork and the worker's own set-up: "after a worker starts"
                return
            time.sleep(0.05)
        self.stop()
        raise SystemExit(f"{self.name}: workers not up after {timeout:.0f} s; see {self.log_path}")

    def workers(self) -> list[int]:
        return proc_children(self.proc.pid) if self.proc else []

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)  # the group gunicorn leads: its own workers
            self.proc.wait(timeout=5)
        deadline = time.time() + 10
        while port_busy(self.port) and time.time() < deadline:
            time.sleep(0.1)


# --- rows --------------------------------------------------------------------------------------------

@dataclass
class Row:
    key: str
    label: str
    load: Load
    first_ms: float
    first_error: str | None
    rss_kb: int
    pss_kb: int
    boot_s: float
    notes: list[str] = field(default_factory=list)
    cpu_ms: float = 0.0       # the workers' CPU time (user + system) per request, warm-up included
    gen_ms: float = 0.0       # the load generator's CPU time per request
    round: int = 0


@dataclass
class Summary:
    """One row over every round: the median round's figures for speed, the worst round's for the rest."""

    key: str
    label: str
    rounds: list[Row]

    @property
    def rps(self) -> float:
        return median(r.load.rps for r in self.rounds)

    def ratios_to(self, ref: Summary) -> list[float]:
        """req/s against `ref`'s in the same round, one per round both ran in."""
        ref_rps = {r.round: r.load.rps for r in ref.rounds}
        return [r.load.rps / ref_rps[r.round] for r in self.rounds if ref_rps.get(r.round)]

    def ratio_to(self, ref: Summary | None) -> float | None:
        """The median of the per-round ratios; None without `ref` or a round both ran in."""
        ratios = self.ratios_to(ref) if ref else []
        return median(ratios) if ratios else None

    def pct(self, p: float) -> float:
        return median(r.load.pct(p) for r in self.rounds)

    @property
    def errors(self) -> int:
        """Every error in every round: warm-up, the measured window and the first request."""
        return sum(r.load.errors + r.load.warmup_errors + (1 if r.first_error else 0) for r in self.rounds)

    @property
    def first_ms(self) -> float:
        return max(r.first_ms for r in self.rounds)

    @property
    def rss_kb(self) -> int:
        return max(r.rss_kb for r in self.rounds)

    @property
    def pss_kb(self) -> int:
        return max(r.pss_kb for r in self.rounds)

    @property
    def cpu_ms(self) -> float:
        return median(r.cpu_ms for r in self.rounds)


def summarize(rows: list[Row]) -> list[Summary]:
    """Rows grouped by key, in the order first run."""
    out: dict[str, Summary] = {}
    for r in rows:
        out.setdefault(r.key, Summary(r.key, r.label, [])).rounds.append(r)
    return list(out.values())


class Bench:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.port = args.port
        self.tmp = Path(tempfile.mkdtemp(prefix="nanhu-webhook-bench-"))
        self.signer = Signer(self.port)
        base = {k: v for k, v in os.environ.items() if not k.startswith(("NANHU_", "WEB_CONCURRENCY"))}
        base["PYTHONPATH"] = str(ROOT) + os.pathsep + base.get("PYTHONPATH", "")
        if not args.no_pin:  # every row alike: the peers' settings pin their workers too
            base["NANHU_PIN_WORKERS"] = "1"
        self.base_env = base
        self.rows: list[Row] = []
        self.round = 0

    # environments
    def nanhu_env(self, db_path: Path, redis: bool, database_url: str | None = None) -> dict[str, str]:
        env = dict(self.base_env)
        env.update({
            "NANHU_CONFIG": str(ROOT / "config.example.toml"),
            "NANHU_DATABASE_URL": database_url or f"sqlite:///{db_path}",
            "NANHU_APP_LEXICON_LOG": "",
            "NANHU_APP_LOG_LEVEL": "WARNING",
            # nothing on these paths calls WeChat; if something did, it would fail fast on a closed port
            "NANHU_WECHAT_API_BASE_URL": f"http://127.0.0.1:{8499 if self.port != 8499 else 8498}/cgi-bin/",
        })
        if redis:
            env["NANHU_REDIS_URL"] = self.args.redis_url
        return env

    def prepare_nanhu(self, redis: bool, database_url: str | None = None) -> tuple[dict[str, str], Path]:
        """A fresh, migrated database (SQLite, or the PostgreSQL database `--postgres` names, dropped and
        created again) with the demo communities (and Redis db emptied)."""
        db_path = self.tmp / f"nanhu{'-redis' if redis else ''}-{self.round + 1}.db"
        env = self.nanhu_env(db_path, redis, database_url)
        if database_url:
            recreate_postgres(database_url)
        if redis:
            flush_redis(self.args.redis_url)
        for cmd in (["db", "upgrade"], ["demo"]):
            subprocess.run([PY, "-m", "cli", *cmd], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
        return env, db_path

    def create_residents(self, env: dict[str, str], prefix: str, count: int) -> None:
        subprocess.run([PY, "-c", CREATE_RESIDENTS, prefix, str(count)], cwd=ROOT, env=env, check=True)

    # one row
    def serve(self, key: str, label: str, app: str, conf: str, env: dict[str, str], cwd: Path,
              first: Item, sources: Callable[[], list[Iterator[Item]]],
              before_load: Callable[[], list[str]] | None = None) -> Row:
        server = Server(f"{key} {label}", app, conf, self.port, env, cwd, self.tmp)
        log(f"[{key}] round {self.round + 1} of {self.args.rounds}: starting {label} ...")
        server.start()
        try:
            first_ms, first_error = single(self.port, first)
            notes = before_load() if before_load else []
            srcs = sources()
            log(f"[{key}] load: {len(srcs)} connections, {self.args.warmup:g} s warm-up + {self.args.duration:g} s")
            cpu0, own0 = sum(proc_cpu(p) for p in server.workers()), os.times()
            spies = []
            if key in self.args.spy:
                spies = start_spies(self, server.workers(), self.args.warmup + self.args.duration)
            load = run_load(self.port, srcs, self.args.warmup, self.args.duration)
            own1 = os.times()
            cpu_ms = (sum(proc_cpu(p) for p in server.workers()) - cpu0) * 1000 / max(1, load.sent)
            gen_ms = (own1.user + own1.system - own0.user - own0.system) * 1000 / max(1, load.sent)
            if spies:
                notes.append("sampled by py-spy (slower)")
                print(f"\n## py-spy on ({key}) {label}: {load.rps:,.0f} req/s while sampled\n")
                report_spies(self, spies)
            workers = server.workers()
            rss = max((proc_status(p, "VmRSS") for p in workers), default=0)
            pss = max((proc_pss(p) for p in workers), default=0)
        finally:
            server.stop()
        if load.exhausted_at is not None:
            notes.append(f"primed residents ran out {load.exhausted_at:.1f} s into the window")
        if load.warmup_errors:
            notes.append(f"{load.warmup_errors} errors during warm-up")
        row = Row(key, label, load, first_ms, first_error, rss, pss, server.boot_seconds, notes, cpu_ms, gen_ms,
                  self.round)
        log(f"[{key}] server CPU {cpu_ms:.2f} ms/req, load generator {gen_ms:.2f} ms/req")
        log(f"[{key}] {load.rps:,.0f} req/s, p50 {load.pct(50):.1f} ms, p99 {load.pct(99):.1f} ms, "
            f"errors {load.errors}, first {first_ms:.0f} ms, RSS {rss / 1024:.0f} MB"
            + (f"; e.g. {load.samples[0]}" if load.samples else ""))
        self.rows.append(row)
        return row

    def stateless_sources(self, text: str, expect: bytes, prefix: str) -> list[Iterator[Item]]:
        per_conn = self.args.pool
        return [pooled(lambda i, c=c: (self.signer.request(f"{prefix}{c}_{i % 50:02d}", text), expect), per_conn)
                for c in range(self.args.connections)]

    def peer(self, key: str, label: str, module: str, expect: bytes) -> Row:
        cwd = self.tmp / f"cwd-{key}"  # WeRoBot keeps its session file in the working directory
        cwd.mkdir(exist_ok=True)
        first = (self.signer.request("o_bench_first", HELP), expect)
        return self.serve(key, label, f"bench.peers.{module}:app", PEER_CONF, self.base_env, cwd, first,
                          lambda: self.stateless_sources(HELP, expect, f"o_bench_{key.replace(chr(39), 'x')}_"))

    def nanhu_help(self, key: str, env: dict[str, str]) -> Row:
        first = (self.signer.request(f"o_bench_{key}_first", HELP), HELP_REPLY)
        return self.serve(key, "nanhu 帮助" + _backends(env), "bot.wsgi:app",
                          "python:deploy.gunicorn_conf", env, ROOT, first,
                          lambda: self.stateless_sources(HELP, HELP_REPLY, f"o_bench_{key}_"))

    def nanhu_opinion(self, key: str, env: dict[str, str], expected_rps: float) -> Row:
        """Row (e): residents with a community, primed to the summary, then each says 是 once."""
        a = self.args
        count = max(a.connections * 20, int(expected_rps * (a.warmup + a.duration) * 0.8))
        count = min(count, a.max_residents)
        prefix = f"o_bench_{key}_{int(time.time())}_"
        self.create_residents(env, prefix, count + 1)
        openids = [f"{prefix}{i:06d}" for i in range(1, count + 1)]
        first = (self.signer.request(f"{prefix}{0:06d}", OPINION), SUMMARY)
        lanes: list[list[str]] = [openids[c::a.connections] for c in range(a.connections)]
        primed: list[list[str]] = [[] for _ in lanes]

        def summaries(lane: list[str], done: list[str]) -> Iterator[Item]:
            for openid in lane:
                done.append(openid)  # every item taken is sent and answered, even past the deadline
                yield self.signer.request(openid, OPINION), SUMMARY

        def prime() -> list[str]:
            log(f"[{key}] priming up to {count} residents to the summary, for at most {PRIME_SECONDS} s (untimed) ...")
            t0 = time.perf_counter()
            sources = [summaries(lane, done) for lane, done in zip(lanes, primed, strict=True)]
            load = run_load(self.port, sources, 0.0, PRIME_SECONDS, stop_all_when_one_runs_out=False)
            notes = [f"{sum(map(len, primed))} residents primed in {time.perf_counter() - t0:.1f} s"]
            if load.errors:
                notes.append(f"{load.errors} priming errors (e.g. {load.samples[:1]})")
            return notes

        sources = lambda: [iter([(self.signer.request(o, YES), TICKET) for o in done]) for done in primed]
        label = "nanhu 是 → opinion" + _backends(env)
        return self.serve(key, label, "bot.wsgi:app", "python:deploy.gunicorn_conf", env, ROOT, first, sources, prime)

    def run(self) -> list[Row]:
        """Every row once per round, in the same order each round: (b) is never far in time from a row it is
        compared with, so the machine's drift over minutes (a busy neighbour) hits both alike."""
        for round_number in range(self.args.rounds):
            self.round = round_number
            self.run_round()
        return self.rows

    def run_round(self) -> None:
        a = self.args
        wanted = set(a.rows)
        if "a" in wanted:
            self.peer("a", "flask (signature, fixed reply)", "flask_echo", b"<xml>")
        if "b" in wanted:
            self.peer("b", "wechatpy echo", "wechatpy_echo", HELP.encode())
        if "c" in wanted:
            self.peer("c", "werobot echo (defaults)", "werobot_echo", HELP.encode())
            self.peer("c'", "werobot echo, sessions off", "werobot_echo_nosession", HELP.encode())
        variants = {"sqlite": [("", False)], "redis": [("+r", True)], "both": [("", False), ("+r", True)]}[a.backend]
        if a.postgres:
            variants.append(("+pg", True))
        for suffix, redis in variants:
            if not ({"d", "e"} & wanted):
                break
            env, _ = self.prepare_nanhu(redis, a.postgres if suffix == "+pg" else None)
            d_rps = None
            if "d" in wanted:
                d_rps = self.nanhu_help("d" + suffix, env).load.rps
            if "e" in wanted:
                self.nanhu_opinion("e" + suffix, env, d_rps or a.e_guess)

    def cleanup(self) -> None:
        if not self.args.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)


CREATE_RESIDENTS = r"""
import sys
from datetime import datetime, timezone
from sqlalchemy import insert, select
from bot import config, runtime
from storage.models import Community, Resident

prefix, count = sys.argv[1], int(sys.argv[2])
rt = runtime.build(config.load())
now = datetime.now(timezone.utc)
with rt.db.transaction() as s:
    community = s.scalar(select(Community.id).order_by(Community.id).limit(1))
    s.execute(insert(Resident), [{"openid": f"{prefix}{i:06d}", "subscribed": True, "created_at": now,
                                  "last_interaction_at": now, "community_id": community} for i in range(count)])
if rt.db.dialect == "sqlite":  # else the server's first write copies these pages back: a slow first request
    raw = rt.db.engine.raw_connection()  # outside a transaction, which a checkpoint needs
    raw.dbapi_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw.close()
"""


def _backends(env: dict[str, str]) -> str:
    return ((" +PostgreSQL" if env["NANHU_DATABASE_URL"].startswith("postgresql") else "")
            + (" +Redis" if "NANHU_REDIS_URL" in env else ""))


def bench_database(url: str):
    """The URL of the bench's own PostgreSQL database: on loopback and named nanhu_bench..., never another."""
    from sqlalchemy.engine import make_url

    u = make_url(url)
    if u.host not in ("127.0.0.1", "localhost") or not (u.database or "").startswith("nanhu_bench"):
        raise SystemExit("--postgres must be a database named nanhu_bench... on loopback "
                         "(it is dropped and created again)")
    return u


def recreate_postgres(url: str) -> None:
    """Drop and create the bench's own database."""
    import psycopg

    u = bench_database(url)
    try:
        with psycopg.connect(host=u.host, port=u.port or 5432, user=u.username, password=u.password,
                             dbname="postgres", autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{u.database}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{u.database}"')
    except psycopg.Error as exc:
        raise SystemExit(f"PostgreSQL at {u.host} does not answer or refuses: {exc}") from None


def flush_redis(url: str) -> None:
    import redis

    if not url.startswith("redis://127.0.0.1:") and not url.startswith("redis://localhost:"):
        raise SystemExit("--redis-url must be on loopback")
    if url.rstrip("/").endswith("/15"):
        raise SystemExit("Redis db 15 belongs to the test suite; use another (default 12)")
    try:
        redis.Redis.from_url(url, socket_timeout=2).flushdb()
    except redis.RedisError as exc:
        raise SystemExit(f"Redis at {url} does not answer: {exc}") from None


# --- the report --------------------------------------------------------------------------------------

def machine() -> str:
    cores = os.cpu_count()
    try:
        mem = int(open("/proc/meminfo").readline().split()[1]) / 1024 / 1024
    except OSError:
        mem = 0
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True).stdout.strip()
    except OSError:
        commit, dirty = "?", ""
    return (f"{time.strftime('%Y-%m-%d %H:%M')} — {cores} cores, {mem:.0f} GiB, {platform.node()}, "
            f"Python {platform.python_version()}, commit {commit}{' (+ local changes)' if dirty else ''}")


def table(rows: list[Summary], args: argparse.Namespace) -> str:
    rounds = f"{args.rounds} rounds, each row once per round in this order; medians over the rounds (worst round " \
             "for errors, first request and memory)" if args.rounds > 1 else "one round"
    out = [f"{args.connections} keep-alive connections, {args.warmup:g} s warm-up + {args.duration:g} s measured "
           f"per row and round; {rounds}; gunicorn gthread, 2 workers x 16 threads, preloaded"
           f"{', unpinned' if args.no_pin else ', each worker pinned to a CPU'}",
           "",
           "| row | req/s | p50 ms | p99 ms | errors | vs (b) | server CPU ms/req | first request ms "
           "| worker RSS MB (PSS) | notes |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    ref = next((r for r in rows if r.key == "b"), None)
    for r in rows:
        vs_b = r.ratio_to(ref)
        ratio = f"{vs_b:.2f}" if vs_b is not None else "–"
        first = f"{r.first_ms:.0f}" + (" (error)" if any(x.first_error for x in r.rounds) else "")
        notes = []
        if len(r.rounds) > 1:
            notes.append("rounds: " + (" / ".join(f"{x:.2f}" for x in r.ratios_to(ref))
                                       if vs_b is not None and r is not ref
                                       else " / ".join(f"{x.load.rps:,.0f}" for x in r.rounds) + " req/s"))
        for x in r.rounds:
            notes += [(f"round {x.round + 1}: " if len(r.rounds) > 1 else "") + n for n in x.notes]
        out.append(f"| ({r.key}) {r.label} | {r.rps:,.0f} | {r.pct(50):.1f} | {r.pct(99):.1f} | "
                   f"{r.errors} | {ratio} | {r.cpu_ms:.2f} | {first} | {r.rss_kb / 1024:.0f} ({r.pss_kb / 1024:.0f}) | "
                   f"{'; '.join(notes)} |")
    return "\n".join(out)


def targets(rows: list[Summary]) -> list[tuple[str, bool, str]]:
    """Issue 9's targets on the summaries: ratios as the median of each round's ratio; p99 the median round's."""
    by = {r.key: r for r in rows}
    checks: list[tuple[str, bool, str]] = []
    for suffix in ("", "+r", "+pg"):
        d, e = by.get("d" + suffix), by.get("e" + suffix)
        tag = {"": "", "+r": " (Redis)", "+pg": " (PostgreSQL + Redis)"}[suffix]
        for row, ref, target in ((d, "b", TARGET_D_VS_B), (d, "c", TARGET_D_VS_C), (d, "c'", TARGET_D_VS_C),
                                 (e, "b", TARGET_E_VS_B)):
            x = row.ratio_to(by.get(ref)) if row else None
            if x is not None:
                checks.append((f"({row.key[0]}){tag} ≥ {target} × ({ref})", x >= target, f"{x:.2f}"))
            elif row and by.get(ref) and all(r.load.rps == 0 for r in by[ref].rounds):  # no ratio to take
                served = row.rps > 0
                checks.append((f"({row.key[0]}){tag} ≥ {target} × ({ref})", served,
                               f"({ref}) answered none correctly" + ("" if served else ", nor did this row")))
        for r in (d, e):
            if r is None:
                continue
            name = f"({r.key[0]}){tag}"
            checks.append((f"{name} p99 < {TARGET_P99_MS:g} ms", r.pct(99) < TARGET_P99_MS, f"{r.pct(99):.1f} ms"))
            checks.append((f"{name} zero errors", r.errors == 0, str(r.errors)))
            checks.append((f"{name} first request < {TARGET_FIRST_MS:g} ms", r.first_ms < TARGET_FIRST_MS,
                           f"{r.first_ms:.0f} ms"))
            checks.append((f"{name} worker RSS < {TARGET_RSS_MB:g} MB", r.rss_kb / 1024 < TARGET_RSS_MB,
                           f"{r.rss_kb / 1024:.0f} MB"))
    return checks


# --- soak --------------------------------------------------------------------------------------------

def soak(bench: Bench, minutes: float, redis: bool = True) -> bool:
    """nanhu with Redis and an RQ worker (or, `redis` False, on the SQLite store with its jobs in the web
    workers), at half the capacity measured just before, for `minutes`.

    Each connection walks fresh residents through 帮助 → 楼下垃圾三天没人清理 (community question) → 1
    (community saved, summary) → 是 (opinion filed): reads and writes alike, every reply checked."""
    a = bench.args
    env, _ = bench.prepare_nanhu(redis=redis)
    setup = "nanhu + Redis + RQ worker" if redis else "nanhu on the SQLite store, jobs in the web workers"
    signer = bench.signer
    turns = [(HELP, HELP_REPLY), (OPINION, ASK_COMMUNITY), (COMMUNITY, SUMMARY), (YES, TICKET)]

    walks = itertools.count()

    def walk(c: int) -> Iterator[Item]:
        stamp = f"{int(time.time())}{next(walks):03d}"  # the capacity probe's residents are not the soak's
        for n in itertools.count():
            openid = f"o_soak_{stamp}_{c}_{n:06d}"
            for text, expect in turns:
                yield signer.request(openid, text), expect

    worker_log = open(bench.tmp / "rq-worker.log", "wb")
    rq = subprocess.Popen([PY, "-m", "cli", "worker"], cwd=ROOT, env=env, stdout=worker_log,
                          stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True) if redis else None
    rq_alive = True
    server = Server(f"soak {setup}", "bot.wsgi:app", "python:deploy.gunicorn_conf", bench.port, env, ROOT, bench.tmp)
    ok = True
    try:
        server.start()
        log("[soak] measuring capacity (3 s warm-up + 10 s) ...")
        cap = run_load(bench.port, [walk(c) for c in range(a.connections)], 3, 10)
        rate = cap.rps / 2
        log(f"[soak] capacity {cap.rps:,.0f} req/s (p99 {cap.pct(99):.1f} ms, errors {cap.errors}); "
            f"soaking at {rate:,.0f} req/s for {minutes:g} min")
        samples: list[tuple[float, dict[int, tuple[int, int, int]]]] = []

        def sample(at: float) -> None:
            snap = {p: (proc_status(p, "VmRSS"), *proc_fds(p)) for p in server.workers()}
            samples.append((at, snap))
            rss = "/".join(f"{v[0] / 1024:.0f}" for v in snap.values())
            fds = "/".join(f"{v[1]}" for v in snap.values())
            log(f"[soak] {at / 60:5.1f} min: workers {list(snap)} RSS {rss} MB, fds {fds}")

        pace = a.connections / rate if rate else 1.0
        load = run_load(bench.port, [walk(c) for c in range(a.connections)], 0, minutes * 60, pace=pace,
                        tick=sample, tick_every=max(10.0, minutes * 60 / 20))
        time.sleep(1)
        sample(load.window)  # after the run, connections closed
        rq_alive = rq is None or rq.poll() is None
    finally:
        server.stop()
        if rq is not None and rq.poll() is None:
            rq.send_signal(signal.SIGTERM)
            try:
                rq.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(rq.pid, signal.SIGKILL)
                rq.wait(timeout=5)
        worker_log.close()

    # growth from the first sample under load to the last one under load (both with the 8 connections open)
    during = samples[:-1] if len(samples) >= 3 else samples
    first, last = during[0][1], during[-1][1]
    same = sorted(set(first) & set(last))
    print(f"\n## soak: {minutes:g} min at {rate:,.0f} req/s (half of {cap.rps:,.0f}), {setup}\n")
    print(f"growth measured from {during[0][0] / 60:.1f} to {during[-1][0] / 60:.1f} min into the soak")
    print(f"requests {load.count:,}, achieved {load.rps:,.0f} req/s, p50 {load.pct(50):.1f} ms, "
          f"p99 {load.pct(99):.1f} ms, errors {load.errors}" + (f" (e.g. {load.samples[0]})" if load.samples else ""))
    if set(first) != set(last):
        print(f"worker pids changed: {sorted(first)} → {sorted(last)} (a worker was restarted)")
        ok = False
    for p in same:
        rss0, fd0, sock0 = first[p]
        rss1, fd1, sock1 = last[p]
        growth = (rss1 - rss0) / rss0 * 100 if rss0 else float("nan")
        print(f"worker {p}: RSS {rss0 / 1024:.0f} → {rss1 / 1024:.0f} MB ({growth:+.1f}%), "
              f"fds {fd0} → {fd1} ({fd1 - fd0:+d}), sockets {sock0} → {sock1} ({sock1 - sock0:+d})")
        ok &= growth <= TARGET_SOAK_GROWTH_PCT and rss1 / 1024 < TARGET_RSS_MB and sock1 <= sock0 and fd1 <= fd0 + 4
    if rq is not None:
        print(f"RQ worker {'still running' if rq_alive else 'DIED'} at the end")
    ok &= load.errors == 0 and rq_alive
    print(f"soak: {'PASS' if ok else 'FAIL'} (zero errors, no restarts, RSS grew by at most "
          f"{TARGET_SOAK_GROWTH_PCT:g}% and stayed under {TARGET_RSS_MB:g} MB, no more sockets open, "
          "other fds grew by at most 4" + (", RQ worker alive)" if rq is not None else ")"))
    return ok


# --- profile -----------------------------------------------------------------------------------------

def start_spies(bench: Bench, pids: list[int], seconds: float) -> list[tuple[subprocess.Popen, Path]]:
    """`py-spy record` on each worker for `seconds`: GIL holders (--profile-mode cpu), threads not idle
    (active) or every thread (wall)."""
    spy = shutil.which("py-spy") or str(Path(PY).with_name("py-spy"))
    if not Path(spy).exists():
        raise SystemExit("py-spy is not installed: .venv/bin/pip install py-spy")
    spies = []
    for pid in pids:
        out = bench.tmp / f"py-spy-{pid}.txt"
        mode = {"cpu": ["--gil"], "wall": ["--idle"], "active": []}[bench.args.profile_mode]
        spies.append((subprocess.Popen([spy, "record", "--pid", str(pid), "--duration", str(int(seconds)),
                                        "--rate", "250", *mode, "--format", "raw", "--output", str(out),
                                        "--nonblocking"],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE), out))
    bench.args.keep = True
    return spies


def report_spies(bench: Bench, spies: list[tuple[subprocess.Popen, Path]]) -> None:
    """Wait for the samplers, then print the top frames by self and by inclusive time."""
    self_t: dict[str, int] = {}
    incl: dict[str, int] = {}
    total = 0
    for spy, out in spies:
        try:
            spy.wait(timeout=60)
        except subprocess.TimeoutExpired:
            spy.kill()
        if not out.exists():
            err = spy.stderr.read().decode(errors="replace").strip() if spy.stderr else ""
            print("py-spy:", err[-500:])
            continue
        for line in out.read_text(errors="replace").splitlines():
            stack, _, n = line.rpartition(" ")
            if not n.isdigit():
                continue
            count = int(n)
            frames = [f for f in stack.split(";") if f]
            frames = [re.sub(r"^(?:process \d+:\".*?\"|thread \(.*?\))$", "", f) for f in frames]
            frames = [re.sub(r":\d+\)$", ")", f) for f in frames if f]  # a function, not a line
            if not frames:
                continue
            total += count
            self_t[frames[-1]] = self_t.get(frames[-1], 0) + count
            for f in set(frames):
                incl[f] = incl.get(f, 0) + count
    if not total:
        print("no samples")
        return
    what = {"cpu": "threads holding the GIL: CPU time in Python",
            "active": "threads not idle: running Python, in C (SQLite, sockets) or waiting for the GIL",
            "wall": "every thread, idle or not: wall time, waits included"}[bench.args.profile_mode]
    print(f"{total} samples ({what}; both workers)\n\ntop self time:")
    for f, n in sorted(self_t.items(), key=lambda kv: -kv[1])[:25]:
        print(f"  {n / total * 100:5.1f}%  {f}")
    print("\ntop inclusive time:")
    for f, n in sorted(incl.items(), key=lambda kv: -kv[1])[:45]:
        print(f"  {n / total * 100:5.1f}%  {f}")
    print(f"\nraw stacks kept in {bench.tmp} (py-spy-*.txt)")


def profile(bench: Bench, seconds: float) -> None:
    """Row (d) under load while `py-spy record` samples both workers; prints the top frames."""
    env, _ = bench.prepare_nanhu(bench.args.backend != "sqlite")
    server = Server("profile nanhu", "bot.wsgi:app", "python:deploy.gunicorn_conf", bench.port, env, ROOT, bench.tmp)
    server.start()
    try:
        sources = bench.stateless_sources(HELP, HELP_REPLY, "o_bench_p_")
        # warm up the residents first, so the profile is of the steady state
        run_load(bench.port, sources, 0, 2)
        spies = start_spies(bench, server.workers(), seconds)
        time.sleep(1)
        load = run_load(bench.port, sources, 0, seconds)
        print(f"\n## profile of (d) under load: {load.rps:,.0f} req/s while sampled (py-spy slows it)\n")
        report_spies(bench, spies)
    finally:
        server.stop()


# --- main --------------------------------------------------------------------------------------------

def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=8400, help="8400-8499, loopback")
    p.add_argument("--connections", type=int, default=8)
    p.add_argument("--warmup", type=float, default=3.0)
    p.add_argument("--duration", type=float, default=8.0, help="seconds measured per row and round")
    p.add_argument("--rounds", type=int, default=3, help="every row once per round; the table gives medians")
    p.add_argument("--rows", default="abcde", help="which rows, e.g. 'bde'")
    p.add_argument("--backend", choices=["sqlite", "redis", "both"], default="sqlite",
                   help=f"nanhu's shared store for rows (d) and (e): SQLite (the default) and/or Redis ({REDIS_URL})")
    p.add_argument("--redis", dest="backend", action="store_const", const="both", help="same as --backend both")
    p.add_argument("--redis-url", default=REDIS_URL)
    p.add_argument("--postgres", metavar="URL", help="also run (d) and (e) on this PostgreSQL database with Redis, "
                   "e.g. postgresql+psycopg://postgres@127.0.0.1:5432/nanhu_bench (dropped and created again)")
    p.add_argument("--pool", type=int, default=4000, help="requests signed in advance per connection (stateless rows)")
    p.add_argument("--max-residents", type=int, default=40_000, help="cap on the residents primed for (e)")
    p.add_argument("--e-guess", type=float, default=300.0, help="(e)'s expected req/s when (d) is not run")
    p.add_argument("--soak", type=float, metavar="MINUTES", help="soak nanhu + Redis + RQ worker at half capacity")
    p.add_argument("--soak-store", choices=["redis", "sqlite"], default="redis",
                   help="sqlite: soak nanhu on the SQLite store instead, its jobs in the web workers")
    p.add_argument("--profile", type=float, metavar="SECONDS", help="py-spy on nanhu's workers during row (d)")
    p.add_argument("--spy", default="", metavar="ROWS", type=lambda v: v.split(","),
                   help="py-spy on the workers during these rows' windows, e.g. 'e+r' or 'd,e'")
    p.add_argument("--profile-mode", choices=["cpu", "wall", "active"], default="cpu",
                   help="cpu: threads holding the GIL; active: threads not idle (in C, or waiting for a lock "
                        "or the GIL, too); wall: all threads, idle ones included")
    p.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, databases)")
    p.add_argument("--no-pin", action="store_true", help="leave the workers to the scheduler (NANHU_PIN_WORKERS off)")
    p.add_argument("--check", action="store_true", help="exit 1 when a target fails")
    args = p.parse_args()
    if args.port not in PORTS:
        p.error("--port must be within 8400-8499")
    if args.postgres:
        bench_database(args.postgres)
    if args.duration > 120 or (args.soak or 0) > 120 or (args.profile or 0) > 120 or not 1 <= args.rounds <= 9:
        p.error("bounded runs only: --duration and --profile at most 120 s, --soak at most 120 min, 1-9 --rounds")

    bench = Bench(args)
    try:
        if args.soak:
            ok = soak(bench, args.soak, redis=args.soak_store == "redis")
            return 0 if ok or not args.check else 1
        if args.profile:
            profile(bench, args.profile)
            return 0
        t0 = time.perf_counter()
        rows = bench.run()
        summaries = summarize(rows)
        print(f"\n## {machine()}\n")
        print(table(summaries, args))
        checks = targets(summaries)
        if checks:
            print("\n| target (issue 9) | measured | |\n|---|---:|---|")
            for name, ok, value in checks:
                print(f"| {name} | {value} | {'PASS' if ok else 'FAIL'} |")
        print(f"\n(bench took {time.perf_counter() - t0:.0f} s; "
              f"logs in {bench.tmp if args.keep else 'a removed temp dir'})")
        if args.json:
            Path(args.json).write_text(json.dumps([{
                "row": r.key, "round": r.round + 1, "label": r.label, "rps": r.load.rps,
                "p50_ms": r.load.pct(50), "p99_ms": r.load.pct(99),
                "errors": r.load.errors, "warmup_errors": r.load.warmup_errors, "requests": r.load.count,
                "window_s": r.load.window, "first_ms": r.first_ms, "rss_kb": r.rss_kb, "pss_kb": r.pss_kb,
                "boot_s": r.boot_s, "notes": r.notes, "error_samples": r.load.samples} for r in rows],
                ensure_ascii=False, indent=1))
        return 1 if args.check and not all(ok for _, ok, _ in checks) else 0
    finally:
        bench.cleanup()


if __name__ == "__main__":
    sys.exit(main())
