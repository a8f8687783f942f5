"""WeChat's signatures and message encryption, with constant-time comparisons.

wechatpy compares signatures with `!=`; here every comparison is hmac.compare_digest, and the AES
part reuses wechatpy's PrpCrypto (AES-256-CBC, PKCS#7, random prefix, appid suffix).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import string

from wechatpy.crypto import PrpCrypto
from wechatpy.exceptions import InvalidAppIdException


class WrongAppId(Exception):
    """The message decrypted, but was encrypted for another official account."""


class Undecryptable(Exception):
    """The Encrypt payload is not valid ciphertext for our key."""


def signature(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def check(expected_parts: tuple[str, ...], given: str) -> bool:
    return hmac.compare_digest(signature(*expected_parts).encode(), (given or "").encode())


class Cipher:
    def __init__(self, encoding_aes_key: str, app_id: str):
        self.key = base64.b64decode(encoding_aes_key + "=")
        self.app_id = app_id

    def decrypt(self, encrypt: str) -> bytes:
        try:
            text = PrpCrypto(self.key).decrypt(encrypt, self.app_id)
        except InvalidAppIdException:
            raise WrongAppId() from None
        except Exception as exc:  # bad base64, bad padding, bad length: all just "not our ciphertext"
            raise Undecryptable(type(exc).__name__) from None
        return text.encode("utf-8")

    def encrypt_reply(self, xml: str, token: str, timestamp: str) -> str:
        nonce = "".join(secrets.choice(string.digits) for _ in range(10))
        encrypt = PrpCrypto(self.key).encrypt(xml, self.app_id).decode("ascii")
        sig = signature(token, timestamp, nonce, encrypt)
        return (f"<xml><Encrypt><![CDATA[{encrypt}]]></Encrypt><MsgSignature><![CDATA[{sig}]]></MsgSignature>"
                f"<TimeStamp>{timestamp}</TimeStamp><Nonce><![CDATA[{nonce}]]></Nonce></xml>")
