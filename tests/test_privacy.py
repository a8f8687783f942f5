"""Personal data stays out of logs: phones and ID numbers are masked whatever way they are written."""
from __future__ import annotations

import logging

import pytest

from bot.logs import MaskingFormatter
from nlp import mask_phones


@pytest.mark.parametrize("raw, masked", [
    ("电话13800138001", "电话138****8001"),
    ("+8613800138001", "+86138****8001"),
    ("138 0013 8001", "138****8001"),
    ("138-0013-8001", "138****8001"),
    ("１３８００１３８００１", "138****8001"),
    ("身份证44030319900101123X", "身份证440303***********X"),
    ("1380 013 8001", "138****8001"),
    ("３栋 电话１３８００１３８００１", "３栋 电话138****8001"),
])
def test_phones_and_id_numbers_are_masked(raw, masked):
    assert mask_phones(raw) == masked


@pytest.mark.parametrize("kept", ["MY20261129001", "绑定 836215", "报名 2", "2026年11月29日"])
def test_ticket_numbers_codes_and_dates_are_left_alone(kept):
    assert mask_phones(kept) == kept


def test_every_log_record_is_masked():
    record = logging.LogRecord("nanhu", logging.INFO, __file__, 1, "居民 %s 留了电话", ("13900139000",), None)
    assert "13900139000" not in MaskingFormatter("%(message)s").format(record)


def test_the_lexicon_log_never_holds_a_phone_or_an_openid(make_stack, tmp_path):
    log = tmp_path / "unknown.log"
    stack = make_stack("sqlite+redis", app_lexicon_log=str(log))
    stack.client().say("o_secret_openid", "帮我叫个车 １３８ ００１３ ８００１")
    text = log.read_text(encoding="utf-8")
    assert "帮我叫个车" in text and "8001" in text
    assert "0013" not in text and "００１３" not in text and "o_secret_openid" not in text


def test_a_long_message_keeps_only_its_start_in_the_lexicon_log_and_the_log_rotates(make_stack, tmp_path):
    from bot import logs

    log = tmp_path / "unknown.log"
    stack = make_stack("sqlite+redis", app_lexicon_log=str(log))
    stack.client().say("o_wordy", "帮我叫个车" + "啊" * 21_000)
    line = log.read_text(encoding="utf-8").splitlines()[-1]
    assert line.split("\t", 1)[1].startswith("帮我叫个车") and len(line.split("\t", 1)[1]) == logs.UNKNOWN_KEPT
    handler = next(h for h in logging.getLogger("nanhu.lexicon").handlers if getattr(h, "baseFilename", ""))
    assert handler.maxBytes == logs.LEXICON_LOG_BYTES and handler.backupCount == 3
