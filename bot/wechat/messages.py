"""Inbound pushes from WeChat: safe XML parsing and one typed message object."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping
from xml.parsers import expat

MESSAGE_TYPES = {"text", "image", "voice", "location", "link", "video", "shortvideo", "event"}
EVENTS = {"subscribe", "unsubscribe", "scan", "click", "view", "location",
          "templatesendjobfinish", "masssendjobfinish"}


class MalformedMessage(ValueError):
    """Not well-formed XML, not UTF-8, or XML with DTD/entity declarations."""


class _Forbidden(Exception):
    pass


def _forbid(*_args) -> None:
    raise _Forbidden


class _Fields:
    """expat's callbacks for a WeChat push: the text of each child of the root, "" for a child with children
    of its own. What ElementTree would give for `{child.tag: child.text}`, without building the tree: a push
    is parsed on every request, and defusedxml's parser costs five times what expat does."""

    def __init__(self) -> None:
        self.root: str | None = None
        self.fields: dict[str, str] = {}
        self._depth = 0
        self._name = ""
        self._text: list[str] = []
        self._nested = False

    def start(self, name: str, _attributes) -> None:
        self._depth += 1
        if self._depth == 1:
            self.root = name
        elif self._depth == 2:
            self._name, self._text, self._nested = name, [], False
        else:
            self._nested = True

    def text(self, data: str) -> None:
        if self._depth == 2:
            self._text.append(data)

    def end(self, _name: str) -> None:
        if self._depth == 2:
            self.fields[self._name] = "" if self._nested else "".join(self._text).strip()
        self._depth -= 1


def parse_xml(body: bytes) -> dict[str, str]:
    """The flat fields of a WeChat XML push. Refuses non-UTF-8, DTDs, entity declarations and external
    references (as defusedxml's forbid_dtd, forbid_entities and forbid_external)."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedMessage("body is not UTF-8") from None
    out = _Fields()
    parser = expat.ParserCreate("utf-8")  # whatever the XML declaration says: the check above held
    parser.StartElementHandler = out.start
    parser.EndElementHandler = out.end
    parser.CharacterDataHandler = out.text
    parser.StartDoctypeDeclHandler = _forbid
    parser.EntityDeclHandler = _forbid
    parser.UnparsedEntityDeclHandler = _forbid
    parser.ExternalEntityRefHandler = _forbid
    try:
        parser.Parse(body, True)
    except expat.ExpatError as exc:
        raise MalformedMessage(f"bad XML: {expat.errors.messages.get(exc.code, 'ExpatError')}") from None
    except _Forbidden:
        raise MalformedMessage("bad XML: DTD or entity declaration") from None
    if out.root != "xml":
        raise MalformedMessage("root element is not <xml>")
    return out.fields


@dataclass(frozen=True)
class Inbound:
    """One message or event from a resident, whatever its type."""

    type: str                     # text | image | voice | location | link | video | shortvideo | event
    openid: str                   # FromUserName
    account: str                  # ToUserName, our official account
    create_time: int
    msg_id: str | None
    text: str                     # Content; a voice message's Recognition; else ""
    event: str | None = None      # lower-case event name
    event_key: str | None = None
    fields: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def dedup_key(self) -> str:
        """WeChat's advice: MsgId for messages, FromUserName + CreateTime (+ Event, EventKey) for events."""
        if self.msg_id and self.type != "event":
            return f"msg:{self.msg_id}"
        return f"evt:{self.openid}:{self.create_time}:{self.event}:{self.event_key or ''}"

    @property
    def scene(self) -> str | None:
        """The QR scene of a subscribe (qrscene_<scene>) or SCAN event."""
        key = self.event_key or ""
        if self.event == "subscribe" and key.startswith("qrscene_"):
            return key[len("qrscene_"):]
        if self.event == "scan":
            return key or None
        return None


def to_inbound(fields: Mapping[str, str]) -> Inbound | None:
    """The typed message, or None for a type or event we do not handle (answered with `success`)."""
    msg_type = fields.get("MsgType", "").lower()
    openid = fields.get("FromUserName", "")
    if msg_type not in MESSAGE_TYPES or not openid:
        return None
    try:
        create_time = int(fields.get("CreateTime", "0"))
    except ValueError:
        create_time = 0
    event = fields.get("Event", "").lower() or None
    if msg_type == "event" and event not in EVENTS:
        return None
    if msg_type == "text":
        text = fields.get("Content", "")
    elif msg_type == "voice":
        text = fields.get("Recognition", "")
    else:
        text = ""
    return Inbound(type=msg_type, openid=openid, account=fields.get("ToUserName", ""), create_time=create_time,
                   msg_id=fields.get("MsgId") or fields.get("MsgID") or None, text=text, event=event,
                   event_key=fields.get("EventKey") or None, fields=dict(fields))
