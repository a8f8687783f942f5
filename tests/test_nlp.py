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

import opencc
import pytest

import nlp
from nlp import classifier, evaluate, lexicon

CORPUS = Path(__file__).parent / "data" / "intents.tsv"
LEXICON = Path(nlp.__file__).parent / "lexicon.toml"


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
    assert intent.alternatives == () and intent.via_pinyin is False
    with pytest.raises(dataclasses.FrozenInstanceError):
        intent.name = "unknown"  # type: ignore[misc]
    assert nlp.Intent("help", 1.0, {"number": 2}) == nlp.Intent("help", 1.0)  # slots do not take part in ==


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


@pytest.mark.parametrize("text", [
    "帮助", "你能做什么", "?", "？", "？？？", "你好", "在吗", "help", "幫助", "不懂怎么用",
])
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


@pytest.mark.fork
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
        lexicon.compile_lexicon('[keywords."event.sign"]\n"报名" = 3\n')


# ---------------------------------------------------------------- evaluation

def test_corpus_has_enough_varied_messages_per_intent() -> None:
    rows = evaluate.read_corpus(CORPUS)
    for name in nlp.INTENTS:
        assert sum(1 for _, want in rows if want == name) >= 40, name
    assert len({text for text, _ in rows}) == len(rows), "duplicate messages"


def test_accuracy_on_the_corpus_is_at_least_95_percent_with_every_intent_recalled() -> None:
    report = evaluate.evaluate(CORPUS)
    assert report.accuracy >= 0.95, evaluate.format_report(report)
    assert set(report.per_intent) == set(nlp.INTENTS)
    assert all(s.support >= 40 for s in report.per_intent.values())
    low = {name: round(s.recall, 3) for name, s in report.per_intent.items() if s.recall < 0.85}
    assert not low, evaluate.format_report(report)


def test_off_topic_messages_rarely_start_an_action() -> None:
    report = evaluate.evaluate(CORPUS)
    assert report.off_topic >= 40
    assert report.off_topic_action_rate <= 0.10, evaluate.format_report(report)


def test_traditional_script_scores_as_well_as_simplified(tmp_path: Path) -> None:
    to_traditional = opencc.OpenCC("s2t")
    rows = evaluate.read_corpus(CORPUS)
    traditional = tmp_path / "traditional.tsv"
    traditional.write_text("text\tintent\n" + "".join(f"{to_traditional.convert(t)}\t{i}\n" for t, i in rows),
                           encoding="utf-8")
    simplified, converted = evaluate.evaluate(CORPUS), evaluate.evaluate(traditional)
    assert converted.accuracy >= simplified.accuracy - 0.005, evaluate.format_report(converted)


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


# ---------------------------------------------------------------- close calls decided by rules

@pytest.mark.parametrize("text, expected", [
    ("我不想参加嘉年华了", "event.cancel"),       # a negated sign-up closed by 了 withdraws one
    ("不参加嘉年华了吧", "event.cancel"),
    ("我去不了了", "event.cancel"),               # 去不了 outranks the shorter 我去 it overlaps
    ("不想报名", "unknown"),
    ("我不想报名了解一下", "unknown"),            # 了解 does not close the clause
    ("查看我的投诉", "opinion.status"),           # the query word outranks the noun
    ("投诉了半个月了，到底有没有人处理", "opinion.status"),
    ("楼下垃圾三天没人清理", "opinion.submit"),   # a complaint without 投诉
    ("我明天要去驾校报名", "unknown"),            # somebody else's sign-up
    ("网购的订单怎么取消", "unknown"),
    ("有插花课吗", "event.list"),                 # a question and an event word, apart
])
def test_rules_decide_close_calls(text: str, expected: str) -> None:
    assert intent_of(text) == expected


@pytest.mark.parametrize("text", [
    "楼上天天晚上蹦迪，能不能管一下", "隔壁邻居天天在走廊里烧纸", "对面楼的人老是往下泼水",
])
def test_a_neighbourhood_problem_in_unknown_words_falls_back_to_a_report_at_low_confidence(text: str) -> None:
    intent = nlp.classify(text)
    assert intent.name == "opinion.submit"
    assert intent.confidence < 0.5


@pytest.mark.parametrize("text", ["小区的花开得真好看", "我家孩子考上大学了", "周末天气不错，出去走走"])
def test_a_pleasant_sentence_about_the_neighbourhood_is_not_a_report(text: str) -> None:
    assert intent_of(text) == "unknown"


# ---------------------------------------------------------------- clarification

@pytest.mark.parametrize("text, first, also", [
    ("报名 投诉", "event.signup", "opinion.submit"),
    ("活动 项目", "project.list", "event.list"),
    ("我报名认领3号", "project.claim", "event.signup"),
])
def test_a_genuinely_mixed_message_offers_alternatives(text: str, first: str, also: str) -> None:
    intent = nlp.classify(text)
    assert intent.name == first
    assert also in intent.alternatives
    assert "unknown" not in intent.alternatives and first not in intent.alternatives


@pytest.mark.parametrize("text", [
    "报名 2", "我要报名嘉年华", "取消报名", "楼下垃圾三天没人清理", "查看我的投诉", "有什么活动", "认领 3", "项目",
    "亮身份", "绑定 836215", "我的积分", "谢谢，我要报名嘉年华", "有什么项目可以认领", "帮助", "今天天气怎么样",
])
def test_a_clear_message_is_acted_on_without_asking(text: str) -> None:
    intent = nlp.classify(text)
    assert intent.alternatives == ()
    assert intent.via_pinyin is False


def test_almost_no_corpus_message_needs_a_question() -> None:
    rows = evaluate.read_corpus(CORPUS)
    asked = [t for t, _ in rows if nlp.classify(t).alternatives]
    assert len(asked) <= len(rows) * 0.02, asked


def test_help_and_unknown_never_ask_or_confirm() -> None:
    for text, _ in evaluate.read_corpus(CORPUS):
        intent = nlp.classify(text)
        if intent.name in ("help", "unknown"):
            assert intent.alternatives == () and intent.via_pinyin is False, text


# ---------------------------------------------------------------- typos by sound

@pytest.mark.parametrize("text, expected", [
    ("报铭嘉年华", "event.signup"),   # bao ming
    ("暴名 2", "event.signup"),
    ("榜定党员", "identity.bind"),    # bang ding
    ("人领项目3", "project.claim"),   # ren ling: 项目 alone scores too little to silence the sound-alike
])
def test_sound_alikes_are_weak_evidence_confirmed_before_acting(text: str, expected: str) -> None:
    intent = nlp.classify(text)
    assert intent.name == expected
    assert intent.via_pinyin is True
    assert intent.confidence <= 0.7


def test_a_sound_alike_never_overrides_exact_words() -> None:
    # 取不了 sounds like 去不了 (cancel), 锦渡 like 进度 (status); the exact words decide
    assert nlp.classify("楼下的快递柜坏了取不了件").name == "opinion.submit"
    assert nlp.classify("建议在文锦渡口岸附近多放几个垃圾桶").name == "opinion.submit"
    nlp.load()
    deaf = dataclasses.replace(classifier._model, soundalike=None)
    for text, want in evaluate.read_corpus(CORPUS):
        if nlp.classify(text, deaf).name == want:  # right from exact words alone: sound-alikes change nothing
            intent = nlp.classify(text)
            # … except that a sound-alike over a lone character (报铭 ≈ 报名 over 报) asks to confirm
            assert intent.name == want, text
            lone = any(e - s == 1 for _, s, e, _ in classifier._hits(deaf, classifier._prepare(deaf, text)))
            assert not intent.via_pinyin or lone, text


# ---------------------------------------------------------------- the lexicon file

def _error(text: str) -> nlp.LexiconError:
    with pytest.raises(nlp.LexiconError) as caught:
        lexicon.compile_lexicon(text, "candidate.toml")
    return caught.value


@pytest.mark.parametrize("text, line, problem", [
    ('[settings]\nmin_score = 2\n\n[keywords."event.sign"]\n"报名" = 3\n', 4, "'event.sign' is not an intent"),
    ('[keywords."event.signup"]\n"报名" = 3\n"参加" = -1\n', 3, "weight of '参加' must be a number > 0"),
    ('[keywords."event.signup"]\n"报名" = "三"\n', 2, "weight of '报名'"),
    ('[settings]\nmin_score = 2\nmin_scor = 3\n', 3, "unknown key 'min_scor' in [settings]"),
    ('[settings]\nmin_score = 2\n[keyword.help]\n"帮助" = 3\n', 3, "unknown section [keyword]"),
    (('[groups]\nquery = ["查"]\n\n[[redirect]]\nwhen = ["query"]\nfrom = "event.signup"\nto = "event.list"\n\n'
      '[[redirect]]\nwhen = ["quer"]\nfrom = "event.signup"\nto = "event.list"\n'), 10, "'quer' in 'when'"),
    ('[settings]\ntie_break = [\n    "help",\n    "event.lst",\n]\n', 4, "'event.lst' is not an intent"),
    ('[keywords."event.signup"]\n"報名" = 3\n', 2, "write '報名' as '报名'"),
    ('[keywords."event.signup"]\n"报名" = 3\n"报名" = 2\n', 3, "not valid TOML"),
    ('[pinyin]\nfactor = 1.5\n', 2, "'factor' must be a number > 0 and <= 1"),
    ('[[compound]]\nintent = "help"\nweight = 2\nparts = "怎么用"\n', 4, "'parts' must be a list"),
    ('[slot_boost]\nmobile = { "help" = 1 }\n', 2, "'mobile' is not a slot"),
])
def test_a_bad_lexicon_entry_is_named_by_its_line(text: str, line: int, problem: str) -> None:
    error = _error(text)
    assert error.line == line, str(error)
    assert problem in str(error)
    assert str(error).startswith(f"candidate.toml:{line}: ")


def test_the_packaged_lexicon_passes_its_own_checks() -> None:
    compiled = lexicon.read_lexicon()
    assert compiled.soundalike is not None and compiled.fallback is not None
    assert lexicon.read_lexicon(LEXICON).keywords == compiled.keywords


def test_a_candidate_lexicon_is_evaluated_without_replacing_the_loaded_one(tmp_path: Path,
                                                                            capsys: pytest.CaptureFixture[str]) -> None:
    nlp.load()
    before = classifier._model
    candidate = tmp_path / "candidate.toml"
    candidate.write_text(LEXICON.read_text(encoding="utf-8").replace('"报名" = 3\n', '"报名" = 3\n"嘉年华" = 5\n', 1),
                         encoding="utf-8")
    candidate_lexicon = nlp.read_lexicon(candidate)
    assert nlp.classify("嘉年华", candidate_lexicon).name == "event.signup"
    assert nlp.classify("嘉年华").name != "event.signup"
    assert evaluate.main(str(CORPUS), str(candidate)) in (0, 1)
    out = capsys.readouterr().out
    assert str(candidate) in out and "accuracy" in out
    assert classifier._model is before

    broken = tmp_path / "broken.tsv.toml"
    broken.write_text('[keywords.help]\n"帮助" = 0\n', encoding="utf-8")
    assert evaluate.main(str(CORPUS), str(broken)) == 2
    assert f"{broken}:2:" in capsys.readouterr().err


def test_load_with_a_path_replaces_the_process_lexicon(tmp_path: Path) -> None:
    candidate = tmp_path / "tiny.toml"
    candidate.write_text('[settings]\nmin_score = 2\n\n[keywords."event.signup"]\n"报名" = 3\n', encoding="utf-8")
    try:
        nlp.load(candidate)
        assert nlp.classify("报名").name == "event.signup"
        assert nlp.classify("路灯坏了").name == "unknown"
    finally:
        nlp.load(lexicon.default_path())
    assert nlp.classify("路灯坏了").name == "opinion.submit"


# ---------------------------------------------------------------- slots as pure functions

@pytest.mark.parametrize("text, said", [
    ("是", True), ("好的!", True), ("ＯＫ", True), ("嗯嗯~", True), ("1", True), ("確認", True),
    ("否", False), ("不用了。", False), ("N", False), ("2", False),
    ("好 !", None), ("报名", None), ("", None),
])
def test_yes_no(text: str, said: bool | None) -> None:
    assert nlp.yes_no(text) is said


@pytest.mark.parametrize("text, skipped", [
    ("跳过", True), ("不知道。", True), ("无!", True), ("跳过~", False), ("3栋", False),
])
def test_skips(text: str, skipped: bool) -> None:
    assert nlp.skips(text) is skipped


def test_nothing_more_and_redo() -> None:
    assert nlp.nothing_more("就这些。") and nlp.nothing_more("没有了~") and not nlp.nothing_more("是")
    assert nlp.redo("重新描述") and nlp.redo("不对!") and not nlp.redo("不用")


def test_answers_are_lexicon_data() -> None:
    answers = lexicon.compile_lexicon('[answers]\nyes = ["中"]\nno = ["不中"]\n').answers
    assert answers.yes == {"中"} and answers.no == {"不中"} and not answers.skip
    with pytest.raises(nlp.LexiconError, match="lexicon.toml:2: write '確認' as '确认'"):
        lexicon.compile_lexicon('[answers]\nyes = ["確認"]\n')


@pytest.mark.parametrize("text, value", [
    ("12", 12), ("一", 1), ("两", 2), ("十", 10), ("十二", 12), ("二十", 20), ("三十一", 31), ("零", 0), ("零五", 5),
    ("十〇", 10), ("三百", 300), ("三百零五", 305), ("两千五百", 2500), ("一万二千", 12000), ("十万", 100000),
    ("二三", None), ("十十", None), ("二零", None), ("十零五", None), ("人", None),
])
def test_numeral(text: str, value: int | None) -> None:
    assert nlp.numeral(text) == value


@pytest.mark.parametrize("text, count", [
    ("0人", 0), ("三百人", 300), ("两千五百人", 2500), ("报名 20 个人", 20), ("两三个人", 3),
    ("报名2", None), (None, None),
])
def test_stated_people(text: str | None, count: int | None) -> None:
    assert nlp.stated_people(text) == count


@pytest.mark.parametrize("text, count", [
    ("两个人", 2), ("3人", 3), ("三位", 3), ("兩個人", 2), ("报名2人", 2), ("我和老婆", 2), ("我跟我妈", 2),
    ("带两个小孩", 3), ("我带两个小孩", 3), ("我和老婆带一个孩子", 3), ("一家三口", 3), ("一家四口", 4),
    ("两大一小", 3), ("2个大人1个小孩", 3), ("我们俩", 2), ("就我自己", 1), ("报名，就我一个人", 1),
    ("帮我妈报个名", 1), ("我和老婆两个人", 2), ("报名嘉年华，两个人", 2),
    ("报名嘉年华", None), ("报名2", None), ("我们一家", None), ("0人", None), ("", None), (None, None),
])
def test_head_count(text: str | None, count: int | None) -> None:
    assert nlp.head_count(text) == count


@pytest.mark.parametrize("text, number", [
    ("13800138000", "13800138000"), ("手机 138 0013 8000", "13800138000"), ("138-0013-8000", "13800138000"),
    ("+86 13912345678", "13912345678"), ("１３８００１３８０００", "13800138000"),
    ("电话是13912345678谢谢", "13912345678"),
    ("12800138000", None), ("1380013800", None), ("138001380001", None), ("MY20261129001", None),
    ("", None), (None, None),
])
def test_mobile(text: str | None, number: str | None) -> None:
    assert nlp.mobile(text) == number


def test_mask_mobile() -> None:
    assert nlp.mask_mobile("13800138001") == "138****8001"
    assert nlp.mask_mobile("138 0013 8001") == "138****8001"
    assert nlp.mask_mobile("123") == "***"
    assert nlp.mask_phones("报名，手机13800138001") == "报名，手机138****8001"


@pytest.mark.parametrize("text, verdict, stars", [
    ("满意", "satisfied", None), ("非常满意", "satisfied", None), ("还行", "satisfied", None),
    ("不错", "satisfied", None),
    ("不满意", "unsatisfied", None), ("不太满意", "unsatisfied", None), ("很不满意", "unsatisfied", None),
    ("差评", "unsatisfied", None),
    ("5星", "satisfied", 5), ("五星好评", "satisfied", 5), ("⭐⭐⭐", "satisfied", 3), ("打4分", "satisfied", 4),
    ("一星", "unsatisfied", 1), ("给2分", "unsatisfied", 2), ("3", "satisfied", 3), ("★★★★★", "satisfied", 5),
])
def test_rating(text: str, verdict: str, stars: int | None) -> None:
    assert nlp.rating(text) == nlp.Rating(verdict, stars)


@pytest.mark.parametrize("text", ["哈哈", "10分", "报名2", "", None])
def test_rating_of_something_that_rates_nothing_is_none(text: str | None) -> None:
    assert nlp.rating(text) is None


def test_ticket_number_and_code_from_raw_text() -> None:
    assert nlp.ticket_no("查一下 ｍｙ２０２６１１２９００１") == "MY20261129001"
    assert nlp.code("綁定 ８３６２１５") == "836215"
    assert nlp.code("MY20261129001") is None
    assert nlp.ticket_no("") is None and nlp.code(None) is None  # type: ignore[arg-type]


# ---------------------------------------------------------------- spoken forms, progress, help, will

@pytest.mark.parametrize("raw, read_as", [
    ("我嘅投訴有冇人跟", "我的投诉有没有人跟"),
    ("唔識用，教下我", "不会用,教下我"),
    ("屋企有事，去唔成喇", "家有事,去不成了"),
    ("有冇俾細路仔參加嘅活動", "有没有给小孩参加的活动"),
    ("我係黨員", "我是党员"),                     # 系 alone is 是 …
    ("系统坏了，联系物业", "系统坏了,联系物业"),   # … but not inside a Mandarin word
    ("知識", "知识"),
    ("马路边上", "马路边上"),
    ("几点开始", "几点开始"),                     # 点 alone is left alone
    ("阮礼拜六无闲", "我礼拜六没空"),             # Teochew
])
def test_spoken_cantonese_is_read_as_mandarin_without_touching_mandarin_words(raw: str, read_as: str) -> None:
    lx = classifier.loaded_lexicon()
    assert classifier._prepare(lx, raw) == read_as


@pytest.mark.parametrize("text, expected", [
    ("上次说漏水的事有下文没", "opinion.status"),          # an earlier opinion + what became of it
    ("投诉都半个月了，到底处理没有", "opinion.status"),
    ("我那单投拆怎样了", "opinion.status"),
    ("我投訴嘅嘢搞掂未", "opinion.status"),
    ("楼下漏水好几天了没人来修", "opinion.submit"),        # no earlier opinion: a report
    ("有冇俾細路仔參加嘅活動", "event.list"),             # is there something to join: a question
    ("有冇項目可以認領", "project.list"),
    ("嘉年华还有位吗？有的话帮我报两个", "event.signup"),  # … unless the resident wants in
    ("报5号，4个人", "event.signup"),
    ("我不想參加任何活動", "unknown"),                   # a negation covers its clause
    ("我唔想認領項目", "unknown"),
    ("我还没绑定党员，怎么弄", "identity.bind"),           # not yet is not a refusal
    ("早上好", "help"), ("早晨", "help"), ("有人吗", "help"), ("點用㗎", "help"),
    ("機器人你識做啲咩", "help"), ("这个咋用啊", "help"), ("转人工", "help"),
    ("喂喂喂，楼下垃圾好几天没人收，臭得不得了", "opinion.submit"),  # a greeting counts once
])
def test_general_rules_from_other_authors(text: str, expected: str) -> None:
    assert intent_of(text) == expected


def test_a_redirect_can_require_every_name() -> None:
    lx = lexicon.compile_lexicon(
        '[groups]\na = ["甲"]\nb = ["乙"]\n[keywords."event.signup"]\n"报名" = 3\n'
        '[[redirect]]\nall = ["a", "b"]\nfrom = "event.signup"\nto = "event.list"\n')
    assert nlp.classify("报名甲", lx).name == "event.signup"
    assert nlp.classify("报名甲乙", lx).name == "event.list"


def test_a_short_answer_step_passes_on_any_other_request_a_free_text_step_only_a_certain_one() -> None:
    assert nlp.classify("去消报名").via_pinyin  # a sound-alike of 取消报名
    assert nlp.another_request("去消报名", "project.rating")
    assert not nlp.another_request("去消报名", "opinion.submit", certain=True)
    assert nlp.another_request("取消报名", "opinion.submit", certain=True)
    assert not nlp.another_request("取消报名", "event.cancel")
    assert not nlp.another_request("3")
