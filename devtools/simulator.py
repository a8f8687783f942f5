"""What WeChat's servers do when they push a message to our webhook: build the XML, sign it, encrypt it.

Used by `nanhu chat`, by the tests and by the benchmarks, so that all three talk to the bot exactly as
WeChat does (https://developers.weixin.qq.com/doc/offiaccount/Basic_Information/Access_Overview.html).
"""
from __future__ import annotations

import base64
import hashlib
import itertools
import random
import string
import time
from dataclasses import dataclass, field

import requests
from wechatpy.crypto import PrpCrypto

_msg_ids = itertools.count(int(time.time() * 1000) * 1000 + random.randint(0, 999))


def sha1_signature(*parts: str) -> str:
    """WeChat's signature: SHA-1 of the sorted, concatenated parts."""
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def new_msg_id() -> int:
    return next(_msg_ids)


def nonce() -> str:
    return "".join(random.choices(string.digits, k=10))


def _cdata(value: str) -> str:
    return "<![CDATA[" + str(value).replace("]]>", "]]]]><![CDATA[>") + "]]>"


def message_xml(fields: dict[str, object]) -> str:
    """Render a flat dict as WeChat's push XML: strings in CDATA, numbers bare."""
    parts = ["<xml>"]
    for key, value in fields.items():
        if value is None:
            continue
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            parts.append(f"<{key}>{value}</{key}>")
        else:
            parts.append(f"<{key}>{_cdata(str(value))}</{key}>")
    parts.append("</xml>")
    return "".join(parts)


def text_fields(openid: str, text: str, *, account: str = "gh_nanhu", msg_id: int | None = None,
                create_time: int | None = None) -> dict[str, object]:
    return {
        "ToUserName": account,
        "FromUserName": openid,
        "CreateTime": create_time or int(time.time()),
        "MsgType": "text",
        "Content": text,
        "MsgId": msg_id or new_msg_id(),
    }


def event_fields(openid: str, event: str, event_key: str | None = None, *, account: str = "gh_nanhu",
                 create_time: int | None = None, **extra: object) -> dict[str, object]:
    fields: dict[str, object] = {
        "ToUserName": account,
        "FromUserName": openid,
        "CreateTime": create_time or int(time.time()),
        "MsgType": "event",
        "Event": event,
    }
    if event_key is not None:
        fields["EventKey"] = event_key
    fields.update(extra)
    return fields


@dataclass
class SignedRequest:
    params: dict[str, str]
    body: bytes


@dataclass
class Simulator:
    """Signs (and in safe/compatible mode encrypts) pushes the way WeChat does."""

    token: str
    app_id: str
    encoding_aes_key: str = ""
    mode: str = "plain"  # plain | compatible | safe
    clock: object = field(default=time.time)

    def _crypto(self) -> PrpCrypto:
        return PrpCrypto(base64.b64decode(self.encoding_aes_key + "="))

    def sign(self, body_xml: str, *, timestamp: int | None = None, nonce_: str | None = None,
             openid: str | None = None) -> SignedRequest:
        ts = str(timestamp if timestamp is not None else int(self.clock()))
        nc = nonce_ or nonce()
        params = {"signature": sha1_signature(self.token, ts, nc), "timestamp": ts, "nonce": nc}
        if openid:
            params["openid"] = openid
        if self.mode == "plain":
            return SignedRequest(params, body_xml.encode("utf-8"))
        encrypt = self._crypto().encrypt(body_xml, self.app_id).decode("ascii")
        params["encrypt_type"] = "aes"
        params["msg_signature"] = sha1_signature(self.token, ts, nc, encrypt)
        if self.mode == "safe":
            outer = "<xml><ToUserName>{}</ToUserName><Encrypt>{}</Encrypt></xml>".format(
                _cdata("gh_nanhu"), _cdata(encrypt))
        else:  # compatible: plaintext fields and the ciphertext side by side
            outer = body_xml.replace("</xml>", "<Encrypt>" + _cdata(encrypt) + "</Encrypt></xml>")
        return SignedRequest(params, outer.encode("utf-8"))

    def verify_params(self, echostr: str, *, timestamp: int | None = None) -> dict[str, str]:
        ts = str(timestamp if timestamp is not None else int(self.clock()))
        nc = nonce()
        return {"signature": sha1_signature(self.token, ts, nc), "timestamp": ts, "nonce": nc, "echostr": echostr}

    def open_reply(self, body: bytes | str) -> str:
        """Turn the webhook's answer into the plain reply XML (decrypting and checking it in safe mode)."""
        text = body.decode("utf-8") if isinstance(body, bytes) else body
        if "<Encrypt>" not in text:
            return text
        from defusedxml import ElementTree

        root = ElementTree.fromstring(text)
        encrypt = root.findtext("Encrypt") or ""
        signature = sha1_signature(self.token, root.findtext("TimeStamp") or "", root.findtext("Nonce") or "", encrypt)
        if signature != root.findtext("MsgSignature"):
            raise ValueError("reply MsgSignature does not match")
        return self._crypto().decrypt(encrypt, self.app_id)


def parse_reply(xml_text: str) -> dict[str, object]:
    """A passive reply as a dict; news articles under 'Articles'. 'success' or '' gives {}."""
    if not xml_text or xml_text.strip() in ("success", ""):
        return {}
    from defusedxml import ElementTree

    root = ElementTree.fromstring(xml_text)
    out: dict[str, object] = {child.tag: (child.text or "") for child in root if len(child) == 0}
    articles = root.find("Articles")
    if articles is not None:
        out["Articles"] = [{c.tag: (c.text or "") for c in item} for item in articles]
    return out


class WebhookClient:
    """Posts simulated pushes to a running webhook over real HTTP."""

    def __init__(self, url: str, simulator: Simulator, *, timeout: float = 10.0,
                 session: requests.Session | None = None):
        self.url = url
        self.sim = simulator
        self.timeout = timeout
        self.http = session or requests.Session()

    def post_fields(self, fields: dict[str, object], **sign_kwargs: object) -> requests.Response:
        req = self.sim.sign(message_xml(fields), openid=str(fields.get("FromUserName", "")), **sign_kwargs)
        return self.http.post(self.url, params=req.params, data=req.body, timeout=self.timeout,
                              headers={"Content-Type": "text/xml"})

    def say(self, openid: str, text: str, **kwargs: object) -> dict[str, object]:
        """Send a text message as the resident; return the parsed passive reply."""
        resp = self.post_fields(text_fields(openid, text, **kwargs))
        resp.raise_for_status()
        return parse_reply(self.sim.open_reply(resp.content))

    def photo(self, openid: str, pic_url: str, media_id: str = "media-demo") -> dict[str, object]:
        """Send an image message, as WeChat pushes it (PicUrl, MediaId)."""
        return self._send(openid, MsgType="image", PicUrl=pic_url, MediaId=media_id)

    def location(self, openid: str, latitude: float, longitude: float, label: str,
                 scale: int = 15) -> dict[str, object]:
        """Send a location message (Location_X is the latitude, Location_Y the longitude)."""
        return self._send(openid, MsgType="location", Location_X=latitude, Location_Y=longitude, Scale=scale,
                          Label=label)

    def _send(self, openid: str, **fields: object) -> dict[str, object]:
        resp = self.post_fields({"ToUserName": "gh_nanhu", "FromUserName": openid, "CreateTime": int(time.time()),
                                 "MsgId": new_msg_id(), **fields})
        resp.raise_for_status()
        return parse_reply(self.sim.open_reply(resp.content))

    def event(self, openid: str, event: str, event_key: str | None = None, **extra: object) -> dict[str, object]:
        resp = self.post_fields(event_fields(openid, event, event_key, **extra))
        resp.raise_for_status()
        return parse_reply(self.sim.open_reply(resp.content))
