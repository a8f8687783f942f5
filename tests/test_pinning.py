"""NANHU_PIN_WORKERS=1: each gunicorn worker, and every thread it starts, on a CPU of its own."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from deploy.gunicorn_conf import least_used_cpu
from tests.conftest import ROOT, free_port

pinnable = pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
                              reason="needs a system that pins processes, with two CPUs")


pytestmark = [pytest.mark.fork, pytest.mark.slow]


def test_a_new_worker_takes_the_cpu_fewest_workers_are_on():
    assert least_used_cpu([], [0, 1]) == 0
    assert least_used_cpu([0], [0, 1]) == 1
    assert least_used_cpu([0, 1], [0, 1]) == 0
    assert least_used_cpu([1], [0, 1]) == 0          # the replacement of the worker that was on CPU 0
    assert least_used_cpu([None, 2], [2, 3]) == 3    # unpinned workers count for no CPU
    assert least_used_cpu([0, 0, 1], [0, 1, 2]) == 2


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(p) for p in f.read().split()]


def _wait_for_pinned_workers(arbiter: int, tmp_path, gone: int | None = None) -> list[int]:
    """The arbiter's two workers once each is on one CPU with its handler threads started (more than 8 threads)."""
    for _ in range(300):
        workers = _children(arbiter)
        try:
            if (len(workers) == 2 and gone not in workers
                    and all(len(os.sched_getaffinity(w)) == 1 and len(os.listdir(f"/proc/{w}/task")) > 8
                            for w in workers)):
                return workers
        except (ProcessLookupError, FileNotFoundError):  # a worker that just went
            pass
        time.sleep(0.1)
    pytest.fail("no two pinned workers with their threads: " + (tmp_path / "gunicorn.log").read_text()[-3000:])


@pinnable
def test_each_worker_and_its_threads_stay_on_a_cpu_of_their_own(tmp_path):
    port = free_port()
    env = {**os.environ, "NANHU_CONFIG": str(ROOT / "config.example.toml"),
           "NANHU_DATABASE_URL": f"sqlite:///{tmp_path}/pin.db", "NANHU_PIN_WORKERS": "1"}
    env.pop("NANHU_REDIS_URL", None)
    subprocess.run([sys.executable, "-m", "cli", "db", "upgrade"], env=env, cwd=ROOT, check=True,
                   capture_output=True)
    log = open(tmp_path / "gunicorn.log", "w")
    arbiter = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "python:deploy.gunicorn_conf", "--workers", "2",
                                "--bind", f"127.0.0.1:{port}", "bot.wsgi:app"], env=env, cwd=ROOT, stdout=log,
                               stderr=log)
    try:
        workers = _wait_for_pinned_workers(arbiter.pid, tmp_path)
        cpus = [os.sched_getaffinity(w) for w in workers]
        assert cpus[0] != cpus[1]
        assert len(os.sched_getaffinity(arbiter.pid)) > 1  # the arbiter itself is not pinned
        for worker, cpu in zip(workers, cpus, strict=False):
            assert all(os.sched_getaffinity(int(t)) == cpu for t in os.listdir(f"/proc/{worker}/task"))

        os.kill(workers[0], 9)  # its replacement takes the CPU it leaves
        replacement = [w for w in _wait_for_pinned_workers(arbiter.pid, tmp_path, gone=workers[0])
                       if w != workers[1]]
        assert [os.sched_getaffinity(w) for w in replacement] == [cpus[0]]
    finally:
        arbiter.terminate()
        arbiter.wait(timeout=15)
        log.close()


def test_a_value_other_than_1_or_0_is_refused_with_its_name():
    env = {**os.environ, "NANHU_PIN_WORKERS": "sometimes"}
    done = subprocess.run([sys.executable, "-c", "import deploy.gunicorn_conf"], env=env, cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode != 0 and "NANHU_PIN_WORKERS='sometimes': expected 1 or 0" in done.stderr


@pinnable
def test_a_worker_whose_cpu_is_gone_runs_unpinned_rather_than_failing():
    # a CPU taken out of the service's set between pre_fork and post_fork: gunicorn would stop the whole
    # service if post_fork raised
    code = ("import logging, os, types; from deploy.gunicorn_conf import pin; before = os.sched_getaffinity(0); "
            "pin(types.SimpleNamespace(nanhu_cpu=100000, log=logging.getLogger('w'))); "
            "print(os.sched_getaffinity(0) == before)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "True"
    assert "could not keep the worker on CPU 100000" in done.stderr
