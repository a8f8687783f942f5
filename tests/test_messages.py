"""Parsing a push's XML: the fields ElementTree would read, and nothing a DTD could smuggle in."""
from __future__ import annotations

from xml.etree import ElementTree

import pytest

from bot.wechat.messages import MalformedMessage, parse_xml


def _element_tree_fields(body: bytes) -> dict[str, str]:
    root = ElementTree.fromstring(body)
    return {child.tag: (child.text or "").strip() if len(child) == 0 else "" for child in root}


@pytest.mark.parametrize("body", [
    "<xml><ToUserName><![CDATA[gh_nanhu]]></ToUserName><FromUserName><![CDATA[o_alice]]></FromUserName>"
    "<CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType>"
    "<Content><![CDATA[ 楼下 垃圾没人清 ]]></Content><MsgId>1234567890123456</MsgId></xml>",
    "<xml>\n  <MsgType>event</MsgType>\n  <Event>CLICK</Event>\n  <EventKey></EventKey>\n</xml>",
    "<xml><Content>a &amp; b &lt;c&gt; &#26032;</Content><Empty/><Attr kind='x'>v</Attr></xml>",
    "<xml><ScanCodeInfo><ScanType>qrcode</ScanType><ScanResult>1</ScanResult></ScanCodeInfo><Event>scancode</Event></xml>",
    "<xml><Mixed>before<b>bold</b>after</Mixed><Content>first</Content><Content>the second wins</Content></xml>",
    "<?xml version='1.0' encoding='GBK'?><!-- a comment --><xml><Content>说明写着 GBK，内容是 UTF-8</Content></xml>",
    "<xml><Content><![CDATA[<xml>not a tag</xml>]]></Content><?pi ignored?></xml>",
], ids=["text", "whitespace", "escapes-attributes", "nested", "mixed-and-repeated", "declared-gbk", "cdata-pi"])
def test_fields_are_what_element_tree_reads(body):
    raw = body.encode("utf-8")
    assert parse_xml(raw) == _element_tree_fields(raw.replace(b"encoding='GBK'", b""))


@pytest.mark.parametrize("body", [
    b"<!DOCTYPE xml><xml><Content>x</Content></xml>",
    b'<!DOCTYPE xml [<!ENTITY a "aaaa">]><xml><Content>&a;</Content></xml>',
    b'<!DOCTYPE xml [<!ENTITY % p SYSTEM "http://127.0.0.1/x.dtd"> %p;]><xml/>',
    b'<!DOCTYPE xml SYSTEM "http://127.0.0.1/x.dtd"><xml><Content>&ext;</Content></xml>',
    b"<xml><Content>&undeclared;</Content></xml>",
    b"<xml><Content>x</Content></xml><xml/>",
    b"<xml><Content>x</Content>",
    b"",
    b"<other><Content>x</Content></other>",
    "<xml><Content>报名</Content></xml>".encode("gbk"),
], ids=["doctype", "entity", "parameter-entity", "external-dtd", "undeclared-entity", "two-roots", "unclosed",
        "empty", "wrong-root", "gbk-bytes"])
def test_refused(body):
    with pytest.raises(MalformedMessage):
        parse_xml(body)
