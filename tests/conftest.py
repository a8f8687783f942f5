"""Fixtures: a real Redis, real databases (SQLite always, PostgreSQL when NANHU_TEST_POSTGRES_URL is set),
the real app (called in-process, or served over real HTTP when a test asks for its address), and the local WeChat
stand-in. No mocks of Redis or the database. Under pytest-xdist each worker has its own Redis database and its own
PostgreSQL database."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis as redis_lib
import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from werkzeug.serving import make_server

from bot import config as config_module
from bot.app import create_app
from bot.runtime import Runtime, build
from devtools import fake_wechat
from devtools.simulator import Simulator, WebhookClient
from storage import migrate
from storage.db import Database
from storage.models import Base
from tests import inprocess

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def xdist_worker_index() -> int:
    """0 outside pytest-xdist, else the worker's number (gw0 is 0, gw1 is 1, ...)."""
    return int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)


# --- Redis ------------------------------------------------------------------------------------------

def worker_redis_url(url: str, worker: int) -> str:
    """The Redis database of one xdist worker: REDIS_URL's database for the first, one below for each next
    (redis://host/15 gives /15, /14, ...), so parallel workers never flush each other's keys."""
    parsed = urlsplit(url)
    db = int(parsed.path.lstrip("/") or 0)
    return urlunsplit(parsed._replace(path=f"/{(db - worker) % 16}"))


@pytest.fixture(scope="session")
def redis_url():
    url = worker_redis_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15"), xdist_worker_index())
    try:
        redis_lib.Redis.from_url(url, socket_connect_timeout=1).ping()
        yield url
        return
    except redis_lib.RedisError:
        pass
    binary = shutil.which("redis-server")
    if not binary:
        pytest.fail(f"no Redis answers at {url} and redis-server is not installed: "
                    "start Redis or set REDIS_URL (the tests never mock Redis)")
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="nanhu-redis-")
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", workdir], stdout=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/15"
    for _ in range(50):
        try:
            redis_lib.Redis.from_url(url).ping()
            break
        except redis_lib.RedisError:
            time.sleep(0.1)
    yield url
    proc.terminate()
    proc.wait()
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def redis_client(redis_url):
    client = redis_lib.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.close()


# --- databases ------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("db") / "template.db"
    db = Database(f"sqlite:///{path}")
    migrate.upgrade(db)
    db.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_url():
    base = os.environ.get("NANHU_TEST_POSTGRES_URL")
    if not base:
        yield None
        return
    url = make_url(base)
    name = f"nanhu_test_{os.getpid()}"  # two suites on one server must not share a database
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    test_url = url.set(database=name).render_as_string(hide_password=False)
    db = Database(test_url)
    migrate.upgrade(db)
    db.dispose()
    yield test_url
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


def _fresh_database_url(kind: str, tmp_path: Path, sqlite_template: Path, postgres_url: str | None) -> str:
    if kind == "sqlite":
        path = tmp_path / "nanhu.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"
    if not postgres_url:
        pytest.skip("PostgreSQL not configured (set NANHU_TEST_POSTGRES_URL; .ci/run does)")
    engine = create_engine(postgres_url)
    with engine.begin() as conn:
        tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return postgres_url


# --- the WeChat stand-in ------------------------------------------------------------------------------

class LiveServer:
    def __init__(self, app, port: int | None = None):
        self.server = make_server("127.0.0.1", port or 0, app, threaded=True)
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


APP_ID = "wxnanhutest000001"
APP_SECRET = "nanhu-test-secret"


@pytest.fixture
def wechat_api():
    """The local WeChat API stand-in, on a real port."""
    server = LiveServer(fake_wechat.create_app(APP_ID, APP_SECRET))
    yield FakeWeChat(server.url)
    server.stop()


@dataclass
class FakeWeChat:
    url: str

    @property
    def api_base(self) -> str:
        return self.url + "/cgi-bin/"

    def messages(self, openid: str | None = None) -> list[dict]:
        params = {"openid": openid} if openid else {}
        return requests.get(self.url + "/_fake/messages", params=params, timeout=5).json()

    def wait_messages(self, openid: str, count: int = 1, timeout: float = 10.0) -> list[dict]:
        give_up = time.monotonic() + timeout
        while time.monotonic() < give_up:
            found = self.messages(openid)
            if len(found) >= count:
                return found
            time.sleep(0.05)
        return self.messages(openid)

    def token_fetches(self) -> int:
        """How many times the bot asked for an access token."""
        return len(requests.get(self.url + "/_fake/calls", params={"path": "token"}, timeout=5).json())

    def control(self, action: str, **payload) -> None:
        requests.post(f"{self.url}/_fake/{action}", json=payload, timeout=5).raise_for_status()


# --- the app: called in-process, served over real HTTP when a test asks for its address ----------------

def make_config(**overrides) -> config_module.Config:
    base = config_module.load(ROOT / "config.example.toml", env={})
    defaults = dict(app_env="test", app_lexicon_log="", wechat_app_id=APP_ID, wechat_app_secret=APP_SECRET)
    defaults.update(overrides)
    return base.replace(**defaults)


@dataclass
class Stack:
    rt: Runtime
    app: object
    sim: Simulator
    live: LiveServer | None = None

    @property
    def server(self) -> LiveServer:
        """The app served over real HTTP; started on first use."""
        if self.live is None:
            self.live = LiveServer(self.app)
        return self.live

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def webhook(self) -> str:
        return self.url + "/wechat"

    def client(self, mode: str | None = None) -> WebhookClient:
        """A resident's WeChat, posting signed (and in safe mode encrypted) pushes to the app in-process."""
        sim = self.sim if mode is None else Simulator(self.sim.token, self.sim.app_id, self.sim.encoding_aes_key, mode)
        return WebhookClient(inprocess.BASE_URL + "/wechat", sim, session=inprocess.in_process_session(self.app))

    def stop(self) -> None:
        if self.live is not None:
            self.live.stop()
        self.rt.close()


STACKS = ["sqlite+redis", "sqlite+sqlkv", "postgresql+redis", "postgresql+sqlkv"]
DATABASES = ["sqlite+sqlkv", "postgresql+sqlkv"]  # each database, on the embedded shared store
DEFAULT_STACK = "sqlite+sqlkv"  # the embedded default: no Redis, as config.example.toml ships


@pytest.fixture
def make_stack(tmp_path, sqlite_template, postgres_url, redis_url, wechat_api):
    """Build an app on the given database / shared-store combination; stopped after the test."""
    made: list[Stack] = []

    def make(kind: str = "sqlite+redis", router=None, *, sqlite_from: Path | None = None, **overrides) -> Stack:
        db_kind, store = kind.split("+")
        if not made:
            redis_lib.Redis.from_url(redis_url).flushdb()
        if made:  # the next process of the same deployment: same database
            url = made[0].rt.config.database.url
        else:
            url = _fresh_database_url(db_kind, tmp_path, sqlite_from or sqlite_template, postgres_url)
        settings = dict(database_url=url, redis_url=redis_url if store == "redis" else "",
                        wechat_api_base_url=wechat_api.api_base)
        settings.update(overrides)
        cfg = make_config(**settings)
        rt = build(cfg)
        app = create_app(cfg, rt, router)
        sim = Simulator(cfg.wechat.token, cfg.wechat.app_id, cfg.wechat.encoding_aes_key, cfg.wechat.mode)
        stack = Stack(rt, app, sim)
        made.append(stack)
        return stack

    yield make
    for stack in made:
        stack.stop()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests marked `storage` run on each database and shared store (or on the combinations the marker names,
    e.g. `storage(*DATABASES)` where only the database matters); the other tests that use `stack` run once, on the
    embedded default. The PostgreSQL combinations are marked `postgres`."""
    if "stack" not in metafunc.fixturenames:
        return
    storage = metafunc.definition.get_closest_marker("storage")
    kinds = (list(storage.args) or STACKS) if storage else [DEFAULT_STACK]
    params = [pytest.param(kind, marks=pytest.mark.postgres) if kind.startswith("postgresql") else kind
              for kind in kinds]
    metafunc.parametrize("stack", params, indirect=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without NANHU_TEST_POSTGRES_URL the PostgreSQL cases are skipped before any fixture starts."""
    if os.environ.get("NANHU_TEST_POSTGRES_URL"):
        return
    skip = pytest.mark.skip(reason="PostgreSQL not configured (set NANHU_TEST_POSTGRES_URL; .ci/run does)")
    for item in items:
        if item.get_closest_marker("postgres"):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def sqlite_demo_template(tmp_path_factory, sqlite_template):
    """A migrated SQLite database with the demo data loaded, made once per hour of the run (the demo's
    events are placed by the hour it is loaded), so each demo test copies a file instead of loading it."""
    from storage import demo as demo_data

    made: dict[datetime, Path] = {}

    def for_this_hour() -> Path:
        now = datetime.now(timezone.utc)
        hour = now.replace(minute=0, second=0, microsecond=0)
        if hour not in made:
            path = tmp_path_factory.mktemp("demo") / "demo.db"
            shutil.copy(sqlite_template, path)
            db = Database(f"sqlite:///{path}")
            demo_data.load(db, now, make_config().app.secret_key)
            db.dispose()
            made[hour] = path
        return made[hour]
    return for_this_hour


@pytest.fixture
def stack(request, make_stack) -> Stack:
    """The app on a database and shared store: each combination for tests marked `storage`, else the default."""
    if "demo" in request.fixturenames and request.param.startswith("sqlite"):
        return make_stack(request.param, sqlite_from=request.getfixturevalue("sqlite_demo_template")())
    return make_stack(request.param)


@pytest.fixture
def app_stack(make_stack) -> Stack:
    """The app on the default combination, for protocol tests that do not depend on storage."""
    return make_stack("sqlite+redis")


@pytest.fixture
def demo(stack):
    """The stack with the demo data (on SQLite copied from sqlite_demo_template; loading again changes nothing)."""
    from storage import demo as demo_data

    demo_data.load(stack.rt.db, datetime.now(timezone.utc), stack.rt.config.app.secret_key)
    return stack


class FakeClock:
    """Moves a runtime's clock (the Runtime.now seam) forward instead of sleeping until a time comes."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch
        self.offset = timedelta(0)

    def drive(self, rt: Runtime) -> None:
        """From now on rt.now() is the real time plus what advance() added."""
        real_now = rt.now
        self.monkeypatch.setattr(rt, "now", lambda: real_now() + self.offset)

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch) -> FakeClock:
    return FakeClock(monkeypatch)


def run_jobs(rt: Runtime) -> None:
    """Run what is queued, as `nanhu worker --burst` would (in-process queues run on their own threads)."""
    from rq import Queue, SimpleWorker

    from bot import runtime as runtime_module

    if rt.jobs.kind == "rq":
        with runtime_module.use(rt):
            SimpleWorker([Queue(rt.config.redis.queue, connection=rt.redis)], connection=rt.redis).work(burst=True)
    else:
        rt.jobs.shutdown()


@pytest.fixture
def staff_cli(demo, monkeypatch):
    """`nanhu ...` as staff run it, against the demo stack's database, Redis and WeChat stand-in; the
    jobs it queues (the residents' notices) are run before it returns."""
    from click.testing import CliRunner

    from cli import main

    cfg = demo.rt.config
    for name, value in {"NANHU_CONFIG": str(ROOT / "config.example.toml"), "NANHU_DATABASE_URL": cfg.database.url,
                        "NANHU_REDIS_URL": cfg.redis.url, "NANHU_WECHAT_API_BASE_URL": cfg.wechat.api_base_url,
                        "NANHU_WECHAT_APP_ID": cfg.wechat.app_id, "NANHU_WECHAT_APP_SECRET": cfg.wechat.app_secret,
                        "NANHU_APP_LEXICON_LOG": ""}.items():
        monkeypatch.setenv(name, value)

    def run(*args):
        result = CliRunner().invoke(main, list(args))
        run_jobs(demo.rt)
        return result
    return run
