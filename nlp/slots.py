"""Facts in a resident's message (slots), as pure functions of the text.

Functions named extract_* take text already passed through nlp.normalize (the classifier's);
the others take the resident's raw text and normalize it themselves.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from nlp.normalize import normalize
from nlp.numerals import numeral

_TICKET = re.compile(r"(?<![a-z0-9])my[\s-]?(\d{11,14})(?!\d)")
_CODE = re.compile(r"(?<!\d)(\d{6})(?!\d)")
_LONG_DIGITS = re.compile(r"\d{4,}")
# a count, time or place is not a list number: 报名2人, 12点, 3号楼
_DIGITS = re.compile(r"(?<!\d)(\d{1,3})(?!\d)"
                     r"(?!\s*(?:人|位|个人|点|月|日|年|天|岁|元|块|楼|栋|层|室|分钟|小时|周|号楼|\+|\.\d))")
_CN_NUM = "[一二两三四五六七八九]?十[一二三四五六七八九]?|[一二两三四五六七八九]"
# 第三个, 三号 anywhere; a bare numeral only at the end (认领三), and not 周六 / 统一 / 之一
_CN_NUMBER = re.compile(rf"第\s*({_CN_NUM})|({_CN_NUM})\s*号(?!楼)|(?<![周期拜统唯之万初第])({_CN_NUM})$")

def extract_ticket_no(text: str) -> str | None:
    """MY20261129001 in any case, in normalized text → 'MY20261129001'."""
    m = _TICKET.search(text)
    return "MY" + m.group(1) if m else None


def extract_code(text: str) -> str | None:
    """The 6-digit binding code in 绑定 836215 (a ticket number's digits are not a code)."""
    m = _CODE.search(_TICKET.sub(" ", text))
    return m.group(1) if m else None


def extract_number(text: str) -> int | None:
    """The list number in 报名 2, 认领3, 报名第二个, 认领三."""
    text = _LONG_DIGITS.sub(" ", _TICKET.sub(" ", text))
    m = _DIGITS.search(text)
    if m:
        return int(m.group(1))
    m = _CN_NUMBER.search(text)
    if m:
        return numeral(next(g for g in m.groups() if g))
    return None


def list_number(text: str) -> int | None:
    """A reply in raw text that is just a list number (3, ３, 3号, 第三个, 三); None for anything longer."""
    norm = normalize(text)
    return extract_number(norm) if len(norm) <= 4 else None


_ANY_NUMBER = re.compile(r"[\d一二两三四五六七八九十]")


def extract_slots(text: str) -> dict[str, Any]:
    """The slots classify() attaches to an Intent (ticket_no, code, number); absent ones are left out."""
    if not _ANY_NUMBER.search(text):
        return {}
    found = {"ticket_no": extract_ticket_no(text), "code": extract_code(text), "number": extract_number(text)}
    return {k: v for k, v in found.items() if v is not None}


def ticket_no(text: str) -> str | None:
    """A ticket number in raw text: ｍｙ２０２６１１２９００１ → 'MY20261129001'."""
    return extract_ticket_no(normalize(text)) if text else None


def code(text: str) -> str | None:
    """A 6-digit binding code in raw text: 綁定 ８３６２１５ → '836215'."""
    return extract_code(normalize(text)) if text else None


# ---------------------------------------------------------------- numbers in words

_NUM = r"\d{1,3}|[零〇一二两三四五六七八九十]{1,3}"


# ---------------------------------------------------------------- head count

_PEOPLE = r"人|位|口人"
_COMPANIONS = r"小孩子?|孩子|小朋友|儿童|宝宝|娃|老人家?|朋友|同事|邻居|同学|学生|家长|孙子|孙女|儿子|女儿"
_KIN = (r"(?:我家|我)?(?:老婆|老公|爱人|媳妇|妻子|丈夫|老伴|孩子|小孩|儿子|女儿|宝宝|"
        r"妈妈|妈|爸爸|爸|奶奶|爷爷|外婆|外公|"
        r"姥姥|姥爷|婆婆|公公|岳母|岳父|弟弟|妹妹|哥哥|姐姐|闺蜜|男朋友|女朋友|对象|朋友|同事|邻居|孙子|孙女)")
_FAMILY = re.compile(rf"(?:一家|全家|我家|家里)\s*({_NUM})\s*口|({_NUM})\s*口人")
_BIG_SMALL = re.compile(rf"({_NUM})\s*大\s*({_NUM})\s*小")
_GENERIC_COUNT = re.compile(rf"({_NUM})\s*个?\s*(?:{_PEOPLE})(?!民|员|家)")
_ADULTS = re.compile(rf"({_NUM})\s*个?\s*大人")
_KIDS = re.compile(rf"(?:({_NUM})\s*个|带个|带上个)\s*(?:{_COMPANIONS})")
_PAIR = re.compile(r"(?:我们|咱们|咱|我俩|夫妻|两口子|母女|母子|父女|父子|姐妹|兄弟|我们家)"
                   rf"\s*(俩|({_NUM})\s*个(?!人))|俩人|两口子")
_KIN_RE = re.compile(_KIN)
_WITH_ME = re.compile(r"我(?:和|跟|带|同|与|还有|陪|加)|带上?|和我|跟我|加上我|算上我|我们|咱们|一起|一块")
_JUST_ME = re.compile(r"就我|我自己|只有我|我一个|一个人|本人|只我")


def head_count(text: str | None) -> int | None:
    """How many people a sign-up is for: 两个人 → 2, 3人 → 3, 一家三口 → 3, 两大一小 → 3,
    我和老婆 → 2, (我)带两个小孩 → 3 (the resident plus two), 就我自己 → 1. None when no count."""
    if not text:
        return None
    norm = normalize(text)
    m = _FAMILY.search(norm) or _BIG_SMALL.search(norm)
    if m:
        values = [numeral(g) for g in m.groups() if g]
        total = sum(v or 0 for v in values)
        return total if total and all(values) else None
    generic = sum(numeral(g) or 0 for g in _GENERIC_COUNT.findall(norm))
    adults = sum(numeral(g) or 0 for g in _ADULTS.findall(norm))
    kids_matches = list(_KIDS.finditer(norm))
    kids = sum((numeral(k.group(1)) or 0) if k.group(1) else 1 for k in kids_matches)
    if generic or adults:
        return generic + adults + kids
    pair = _PAIR.search(norm)
    if pair:
        base = 2 if pair.group(1) in (None, "俩") else numeral(pair.group(2) or "") or 0
        return base + kids if base else None
    # kinship words not already counted above (带两个孩子 counts 孩子 once); 父母 / 爸妈 are two
    counted = {i for k in kids_matches for i in range(k.start(), k.end())}
    kin = sum(1 for k in _KIN_RE.finditer(norm) if k.start() not in counted) + 2 * norm.count("父母")
    companions = kids + kin
    if companions:
        return companions + (1 if _WITH_ME.search(norm) else 0)
    if _JUST_ME.search(norm):
        return 1
    return None


# ---------------------------------------------------------------- mobile numbers

_MOBILE = re.compile(r"(?<![\d+])(?:\+?86[\s-]?)?(1[3-9]\d(?:[\s-]?\d){8})(?![\d])")


def mobile(text: str | None) -> str | None:
    """An 11-digit mainland mobile number, also written 138 0013 8000, 138-0013-8000, +86 or
    full-width: → '13800138000'. None when there is none."""
    if not text:
        return None
    m = _MOBILE.search(normalize(text))
    return re.sub(r"\D", "", m.group(1)) if m else None


# ---------------------------------------------------------------- ratings

@dataclass(frozen=True)
class Rating:
    """A resident's verdict on a project. `verdict` is "satisfied" or "unsatisfied"; `stars` is
    1–5 when they gave stars or points, else None. Stars decide the verdict: 3 and up is
    satisfied (3 = 基本满意 / 还行 / 一般), 1–2 unsatisfied."""
    verdict: str
    stars: int | None = None


SATISFIED, UNSATISFIED = "satisfied", "unsatisfied"
# checked first: every one of these contains a satisfied word (不满意 ⊃ 满意, 不太好 ⊃ 好)
_UNSATISFIED_WORDS = re.compile(
    r"不\S{0,2}满意|不满|差评|很差|太差|好差|较差|差劲|差得很|^差$|不行|不好|不怎么样|不咋地|不咋样|失望|糟糕|没用|垃圾|烂|不及格|👎")
_SATISFIED_WORDS = re.compile(
    r"满意|不错|挺好|很好|非常好|真好|太好了|好评|点赞|赞|棒|满分|还行|还可以|可以|凑合|一般|及格|👍|^好$")
_STAR_CHARS = re.compile(r"[⭐★🌟]")
_STARS = re.compile(rf"({_NUM})\s*(?:颗|个)?\s*星|(?:打|给|评)\s*({_NUM})\s*分|^({_NUM})\s*分?$|({_NUM})\s*分(?!钟)")


def rating(text: str | None) -> Rating | None:
    """满意 / 非常满意 / 还行 → satisfied; 不满意 / 不太满意 / 差评 → unsatisfied; 5星, 五星,
    ⭐⭐⭐, 打4分, or a bare 1–5 → those stars. None when the text rates nothing (or rates
    outside 1–5, like 10分)."""
    if not text:
        return None
    norm = normalize(text)
    stars: int | None = None
    count = len(_STAR_CHARS.findall(norm))
    if 1 <= count <= 5:
        stars = count
    else:
        m = _STARS.search(norm)
        if m:
            value = numeral(next(g for g in m.groups() if g))
            stars = value if value is not None and 1 <= value <= 5 else None
    if stars is None and "满分" in norm:
        stars = 5
    if stars is not None:
        return Rating(SATISFIED if stars >= 3 else UNSATISFIED, stars)
    if _UNSATISFIED_WORDS.search(norm):
        return Rating(UNSATISFIED)
    if _SATISFIED_WORDS.search(norm):
        return Rating(SATISFIED)
    return None


# ---------------------------------------------------------------- places

# words that place a problem: 3栋, 2单元, 楼下, 门口, 深南路, 菜市场 ... Vague ones (小区, 社区, 附近,
# 旁边) do not: "小区垃圾太多" still needs a where. A date (3号) is not a place.
_PLACE = re.compile(r"\d+\s*(栋|幢|座|号楼|单元|楼|层|巷|弄|室|号门)|[一二三四五六七八九十]+(栋|幢|座|单元|号楼)"
                    r"|楼下|楼上|楼道|楼梯|门口|大门|东门|西门|南门|北门|后门|侧门|前门|路口|路边|马路|广场|公园|市场|学校"
                    r"|地铁站|公交站|停车场|车库|对面|隔壁|楼顶|天台|花园|大厦|垃圾站|天桥|桥下|河边"
                    r"|[\u4e00-\u9fff](?<![走了住的条在一上带让出线网道找])(路|街|巷)(?![灯面线况过道上])")


def mentions_place(text: str) -> bool:
    """Whether a description already says where the problem is (so the bot need not ask)."""
    return bool(_PLACE.search(normalize(text))) if text else False


# ---------------------------------------------------------------- any stated number of people

_STATED_PEOPLE = re.compile(r"(\d+|[零〇一二两三四五六七八九十百千万]+)\s*个?\s*(?:人|位)")


def stated_people(text: str | None) -> int | None:
    """A number of people as said, however unreasonable: 0人 → 0, 三百人 → 300 (head_count reads
    only sensible counts). None when no number of people is said."""
    if not text:
        return None
    m = _STATED_PEOPLE.search(normalize(text))
    if not m:
        return None
    said = m.group(1)
    # 两三个人 (two or three) is read from its end: the larger number
    return next((n for i in range(len(said)) if (n := numeral(said[i:])) is not None), None)
