"""One precise question when the bot is unsure, through the real router and classifier: a sound-alike
is confirmed before it acts, and two close readings become a numbered choice."""
from __future__ import annotations

import nlp
from bot.chat import clarify


def test_every_action_has_a_label_residents_understand():
    assert set(clarify.LABELS) == set(nlp.INTENTS) - {"unknown"}


def test_a_sound_alike_is_confirmed_and_yes_goes_on_as_if_said(demo):
    chat = demo.client()
    assert nlp.classify("亮深份").via_pinyin  # 深 for 身: found only by sound
    question = chat.say("o_typo", "亮深份")["Content"]
    assert question == "您是想亮身份（出示党员证）吗？回复 是/否"
    assert chat.say("o_typo", "是")["Content"] == chat.say("o_direct", "亮身份")["Content"]


def test_no_to_a_sound_alike_asks_for_other_words_and_does_nothing(demo):
    chat = demo.client()
    chat.say("o_typo2", "亮深份")
    assert "换个说法" in chat.say("o_typo2", "不是")["Content"]
    assert "没有进行中的操作" in chat.say("o_typo2", "取消")["Content"]


def test_two_close_readings_become_one_numbered_question(demo):
    chat = demo.client()
    intent = nlp.classify("活动 项目")
    assert intent.alternatives
    question = chat.say("o_unsure", "活动 项目")["Content"]
    assert question.startswith("我不太确定您的意思。请回复 1 ") and "2 " in question
    options = [intent.name, *intent.alternatives]
    pick = options.index("event.list") + 1
    assert "近期活动" in chat.say("o_unsure", str(pick))["Content"]


def test_an_answer_that_is_not_a_choice_is_understood_afresh(demo):
    chat = demo.client()
    chat.say("o_moves_on", "活动 项目")
    assert "您还没有反映过问题" in chat.say("o_moves_on", "我的意见")["Content"]
    assert "没有进行中的操作" in chat.say("o_moves_on", "取消")["Content"]


def test_a_sound_alike_for_a_sign_up_is_confirmed_before_anything_happens(demo):
    chat = demo.client()
    assert nlp.classify("宝名嘉年华").via_pinyin
    assert chat.say("o_bao", "宝名嘉年华")["Content"] == "您是想报名活动吗？回复 是/否"
    signed_up = chat.say("o_bao", "是")["Content"]
    assert "报名成功" in signed_up and "社区党群嘉年华" in signed_up  # the answer goes on as if they had said 报名


def test_clear_messages_are_not_questioned(demo):
    for text in ("活动", "我的意见", "亮身份", "楼下垃圾三天没人清理"):
        intent = nlp.classify(text)
        assert not intent.alternatives and not intent.via_pinyin, text
