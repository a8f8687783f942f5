"""nlp: what residents type, and what the bot should understand from it."""
from __future__ import annotations

import builtins
import dataclasses
import socket
import subprocess
import sys
import time
import tomllib
from importlib import resources
from pathlib import Path

import pytest

import nlp
from nlp import classifier, evaluate

CORPUS = Path(__file__).parent / "data" / "intents.tsv"


def intent_of(text: str) -> str:
    return nlp.classify(text).name


# ---------------------------------------------------------------- normalize

@pytest.mark.parametrize("raw, expected", [
    ("我要報名參加活動", "我要报名参加活动"),              # traditional → simplified
    ("投訴：樓下噪音", "投诉:楼下噪音"),                   # and the full-width colon
    ("报名２", "报名2"),                                  # full-width digit
    ("ＭＹ２０２６１１２９００１", "my20261129001"),       # full-width letters, lowercased
    ("绑定　８３６２１５", "绑定 836215"),                 # ideographic space
    ("  取消   报名  ", "取消 报名"),                      # trimmed, whitespace collapsed
    ("\t认领\n3 ", "认领 3"),
    ("HELP！", "help!"),
    ("？？？", "???"),
    ("路灯坏了。", "路灯坏了."),
    ("", ""),
])
def test_normalize(raw: str, expected: str) -> None:
    assert nlp.normalize(raw) == expected


def test_normalize_lowercases_only_ascii_and_is_idempotent() -> None:
    assert nlp.normalize("ΑΒΓ MY") == "ΑΒΓ my"
    once = nlp.normalize("  報名 ２ ＨＥＬＰ ")
    assert nlp.normalize(once) == once


# ---------------------------------------------------------------- the contract

def test_intents_are_the_agreed_names() -> None:
    assert nlp.INTENTS == (
        "opinion.submit", "opinion.status", "event.list", "event.signup", "event.cancel",
        "project.list", "project.claim", "identity.show", "identity.bind", "help", "unknown",
    )


def test_intent_is_a_frozen_dataclass_with_empty_slots_by_default() -> None:
    intent = nlp.Intent("help", 1.0)
    assert intent.slots == {}
    with pytest.raises(dataclasses.FrozenInstanceError):
        intent.name = "unknown"  # type: ignore[misc]


# ---------------------------------------------------------------- what residents mean

@pytest.mark.parametrize("text", [
    "楼下垃圾三天没人清理", "路灯坏了", "噪音太吵", "我要投诉", "隔壁装修天天早上七点就打电钻",
    "投訴 廣場舞音響太大聲", "投拆，电梯又坏了", "建议在口岸附近多放几个垃圾桶",
])
def test_complaints_are_opinions_even_without_the_word_投诉(text: str) -> None:
    assert intent_of(text) == "opinion.submit"


@pytest.mark.parametrize("text", [
    "查看我的投诉", "我的意见进度", "投诉有结果了吗", "我上次反映的问题处理了吗", "my20261129001", "我的投訴處理好了嗎",
])
def test_a_query_word_outranks_the_opinion_noun(text: str) -> None:
    assert intent_of(text) == "opinion.status"


@pytest.mark.parametrize("text, expected", [
    ("活动", "event.list"),
    ("有什么活动", "event.list"),
    ("最近有什麼活動", "event.list"),
    ("还有什么活动可以报名", "event.list"),
    ("报名 2", "event.signup"),
    ("报名嘉年华", "event.signup"),
    ("報名 3", "event.signup"),
    ("抱名 1", "event.signup"),
    ("报名２", "event.signup"),
    ("我想参加读书月活动", "event.signup"),
])
def test_events(text: str, expected: str) -> None:
    assert intent_of(text) == expected


@pytest.mark.parametrize("text", ["不去了", "取消报名", "去不了了", "我不参加了", "不想参加了", "取消報名", "报名取消"])
def test_changing_your_mind_cancels(text: str) -> None:
    assert intent_of(text) == "event.cancel"


@pytest.mark.parametrize("text", ["不想报名", "我不想报名", "不用帮我报名", "不想认领", "不用认证"])
def test_a_negated_request_is_not_that_request(text: str) -> None:
    assert intent_of(text) == "unknown"


def test_negation_words_that_do_not_negate() -> None:
    assert intent_of("社区最近有没有活动") == "event.list"  # 有没有 asks
    assert intent_of("我特别想报名嘉年华") == "event.signup"  # 特别 is not 别


@pytest.mark.parametrize("text, expected", [
    ("项目", "project.list"),
    ("項目", "project.list"),
    ("有什么项目可以认领", "project.list"),
    ("认领 3", "project.claim"),
    ("認領 2", "project.claim"),
    ("我想参与项目2", "project.claim"),
    ("认领助老项目", "project.claim"),
])
def test_projects(text: str, expected: str) -> None:
    assert intent_of(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("亮身份", "identity.show"),
    ("我的党员证", "identity.show"),
    ("我的积分", "identity.show"),
    ("我的黨員證", "identity.show"),
    ("绑定 836215", "identity.bind"),
    ("党员认证", "identity.bind"),
    ("绑定党员证", "identity.bind"),   # the verb outranks the card
    ("836215", "identity.bind"),
])
def test_party_members(text: str, expected: str) -> None:
    assert intent_of(text) == expected


@pytest.mark.parametrize("text", ["帮助", "你能做什么", "?", "？", "？？？", "你好", "在吗", "help", "幫助", "不懂怎么用"])
def test_help(text: str) -> None:
    assert intent_of(text) == "help"


@pytest.mark.parametrize("text", ["今天天气怎么样", "讲个笑话", "哈哈", "谢谢", "asdfgh", "😂😂", "", "   "])
def test_off_topic_is_unknown(text: str) -> None:
    assert intent_of(text) == "unknown"


def test_a_real_request_beats_a_pleasantry() -> None:
    assert intent_of("谢谢，我要报名嘉年华") == "event.signup"


# ---------------------------------------------------------------- slots

@pytest.mark.parametrize("text, slots", [
    ("报名 2", {"number": 2}),
    ("认领3", {"number": 3}),
    ("报名２", {"number": 2}),
    ("报名第三个", {"number": 3}),
    ("认领二", {"number": 2}),
    ("认领 十二", {"number": 12}),
    ("报名2人", {}),                       # a head count, not a list number
    ("这周六有什么活动", {}),               # 周六 is a day
    ("绑定 836215", {"code": "836215"}),
    ("绑定 ８３６２１５", {"code": "836215"}),
    ("查一下工单my20261129001", {"ticket_no": "MY20261129001"}),
    ("有什么活动", {}),
])
def test_slots(text: str, slots: dict) -> None:
    assert nlp.classify(text).slots == slots


# ---------------------------------------------------------------- behaviour

def test_confidence_is_between_0_and_1_and_higher_for_clear_messages() -> None:
    for text, _ in evaluate.read_corpus(CORPUS):
        assert 0.0 <= nlp.classify(text).confidence <= 1.0
    assert nlp.classify("报名 2").confidence > nlp.classify("我报名认领3号").confidence  # two verbs disagree


def test_classify_is_pure_and_deterministic(monkeypatch: pytest.MonkeyPatch) -> None:
    nlp.load()
    texts = [text for text, _ in evaluate.read_corpus(CORPUS)]
    first = [nlp.classify(t) for t in texts]

    def no_io(*args: object, **kwargs: object) -> None:
        raise AssertionError("classify did I/O")
    monkeypatch.setattr(builtins, "open", no_io)
    monkeypatch.setattr(socket, "socket", no_io)
    again = [nlp.classify(t) for t in texts]
    assert [(i.name, i.confidence, i.slots) for i in again] == [(i.name, i.confidence, i.slots) for i in first]


def test_load_is_idempotent() -> None:
    nlp.load()
    model = classifier._model
    nlp.load()
    assert classifier._model is model


def test_classify_loads_lazily_when_nobody_called_load() -> None:
    code = "import nlp, nlp.classifier as c; assert c._model is None; print(nlp.classify('报名 2'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "event.signup" in out


def test_classify_is_fast_after_load() -> None:
    nlp.load()
    texts = [text for text, _ in evaluate.read_corpus(CORPUS)]
    start = time.perf_counter()
    for t in texts:
        nlp.classify(t)
    assert (time.perf_counter() - start) / len(texts) < 0.001


def test_the_lexicon_is_data_naming_only_known_intents() -> None:
    data = tomllib.loads(resources.files("nlp").joinpath("lexicon.toml").read_text(encoding="utf-8"))
    assert set(data["keywords"]) <= set(nlp.INTENTS)
    assert set(nlp.INTENTS) - {"unknown"} <= set(data["keywords"])
    with pytest.raises(nlp.LexiconError, match="event.sign"):
        classifier._build({"keywords": {"event.sign": {"报名": 3}}})


# ---------------------------------------------------------------- evaluation

def test_corpus_has_enough_varied_messages_per_intent() -> None:
    rows = evaluate.read_corpus(CORPUS)
    for name in nlp.INTENTS:
        assert sum(1 for _, want in rows if want == name) >= 25, name
    assert len({text for text, _ in rows}) == len(rows), "duplicate messages"


def test_accuracy_on_the_corpus_is_at_least_90_percent() -> None:
    report = evaluate.evaluate(CORPUS)
    assert report.accuracy >= 0.90, evaluate.format_report(report)
    assert set(report.per_intent) == set(nlp.INTENTS)
    assert all(s.support >= 25 for s in report.per_intent.values())


def test_main_passes_on_the_corpus(capsys: pytest.CaptureFixture[str]) -> None:
    assert evaluate.main(str(CORPUS)) == 0
    out = capsys.readouterr().out
    assert "accuracy" in out and "event.signup" in out and "misclassified" in out


def test_evaluation_fails_when_accuracy_drops(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wrong = tmp_path / "wrong.tsv"
    wrong.write_text("text\tintent\n报名 2\tproject.claim\n路灯坏了\thelp\n认领 3\tproject.claim\n哈哈\tevent.list\n",
                     encoding="utf-8")
    report = evaluate.evaluate(wrong)
    assert report.accuracy == 0.25
    assert ("报名 2", "project.claim", "event.signup") in report.misclassified
    assert report.per_intent["project.claim"].precision == 1.0
    assert report.per_intent["project.claim"].recall == 0.5
    assert report.per_intent["event.signup"].support == 0

    assert evaluate.main(str(wrong)) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "报名 2" in out


def test_a_broken_corpus_is_reported_not_scored(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tsv"
    bad.write_text("text\tintent\n报名 2\tevent.sign\n", encoding="utf-8")
    with pytest.raises(ValueError, match=":2:"):
        evaluate.read_corpus(bad)
    assert evaluate.main(str(bad)) == 2
    assert evaluate.main(str(tmp_path / "missing.tsv")) == 2
