"""Passive replies and their XML, within WeChat's limits."""
from __future__ import annotations

from dataclasses import dataclass

TEXT_LIMIT_BYTES = 2048          # passive text replies longer than this are rejected by WeChat
TITLE_LIMIT = 64
DESCRIPTION_LIMIT = 120
TRUNCATION_MARK = "…（内容较长，已截断）"


@dataclass(frozen=True)
class Text:
    content: str


@dataclass(frozen=True)
class Article:
    title: str
    description: str
    url: str
    picurl: str = ""


@dataclass(frozen=True)
class News:
    """A news reply. WeChat shows only one article in a passive reply, so there is only one."""

    article: Article


Reply = Text | News


def fit_bytes(text: str, limit: int = TEXT_LIMIT_BYTES, mark: str = TRUNCATION_MARK) -> str:
    """`text` cut on a character boundary so that its UTF-8 form fits in `limit` bytes."""
    if len(text.encode("utf-8")) <= limit:
        return text
    room = limit - len(mark.encode("utf-8"))
    cut = text.encode("utf-8")[:room].decode("utf-8", errors="ignore")
    return cut + mark


def _cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _clip(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


def render(reply: Reply, to_user: str, from_user: str, create_time: int) -> str:
    head = (f"<xml><ToUserName>{_cdata(to_user)}</ToUserName><FromUserName>{_cdata(from_user)}</FromUserName>"
            f"<CreateTime>{int(create_time)}</CreateTime>")
    if isinstance(reply, Text):
        return head + f"<MsgType><![CDATA[text]]></MsgType><Content>{_cdata(fit_bytes(reply.content))}</Content></xml>"
    a = reply.article
    return (head + "<MsgType><![CDATA[news]]></MsgType><ArticleCount>1</ArticleCount><Articles><item>"
            f"<Title>{_cdata(_clip(a.title, TITLE_LIMIT))}</Title>"
            f"<Description>{_cdata(_clip(a.description, DESCRIPTION_LIMIT))}</Description>"
            f"<PicUrl>{_cdata(a.picurl)}</PicUrl><Url>{_cdata(a.url)}</Url></item></Articles></xml>")


def as_text(reply: Reply) -> str:
    """The reply as plain text, for a customer-service message or a log."""
    if isinstance(reply, Text):
        return reply.content
    return f"{reply.article.title}\n{reply.article.description}\n{reply.article.url}"
