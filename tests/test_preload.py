"""Importing the WSGI app (what gunicorn --preload does) loads jieba, OpenCC and the lexicon, so no
resident's first message pays for them."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = [pytest.mark.fork, pytest.mark.slow]


PROBE = """
import nlp.classifier as c, nlp.normalize as n
assert c._model is None
import bot.wsgi
m = c._model
assert m is not None, "lexicon not loaded"
tok = m.tokenizer
assert tok.initialized, "jieba dictionary not loaded"
print("preloaded")
"""


def test_importing_the_wsgi_app_preloads_the_language_models(tmp_path):
    env = {**os.environ, "NANHU_CONFIG": str(ROOT / "config.example.toml"),
           "NANHU_DATABASE_URL": f"sqlite:///{tmp_path}/p.db", "NANHU_APP_LEXICON_LOG": ""}
    subprocess.run([sys.executable, "-m", "cli", "db", "upgrade"], env=env, cwd=ROOT, check=True, capture_output=True)
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "preloaded" in out.stdout


def test_the_app_refuses_to_start_on_an_unmigrated_database(tmp_path):
    env = {**os.environ, "NANHU_CONFIG": str(ROOT / "config.example.toml"),
           "NANHU_DATABASE_URL": f"sqlite:///{tmp_path}/empty.db", "NANHU_APP_LEXICON_LOG": ""}
    out = subprocess.run([sys.executable, "-c", "import bot.wsgi"], env=env, cwd=ROOT, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode != 0 and "nanhu db upgrade" in out.stderr
