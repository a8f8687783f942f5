"""Signed links residents open from chat: a registration's check-in page, a party member's identity
card (its verification page and its picture).

A link carries ids signed with app.secret_key, so links cannot be forged or guessed; whether what it
names is still valid is decided by storage on every request. Handlers build links, `web.public`
reads them.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeSerializer, URLSafeTimedSerializer

from bot.config import Config
from storage.cards import CardView

_SALT = "nanhu-card"


def _registration_signer(config: Config) -> URLSafeSerializer:
    return URLSafeSerializer(config.app.secret_key, salt="nanhu-registration")


def registration_link(config: Config, registration_id: int, code: str) -> str:
    """The page of one registration; the code is signed in, so a link from before the resident
    cancelled and signed up again (a new code) shows nothing."""
    return f"{config.app.base_url.rstrip('/')}/r/{_registration_signer(config).dumps([registration_id, code])}"


def read_registration_token(config: Config, value: str) -> tuple[int, str] | None:
    """(registration_id, code) from a registration page's token; None if we did not sign it."""
    try:
        registration_id, code = _registration_signer(config).loads(value)
        return int(registration_id), str(code)
    except (BadSignature, ValueError, TypeError):
        return None


# --- identity cards ---------------------------------------------------------------------------------


def _signer(config: Config) -> URLSafeSerializer:
    return URLSafeSerializer(config.app.secret_key, salt=_SALT)


def token(config: Config, member_id: int, serial: int) -> str:
    return _signer(config).dumps([int(member_id), int(serial)])


IMAGE_VALIDITY = 7 * 86400  # the picture's link expires: it shows the full name, the check page does not


def image_token(config: Config, member_id: int, serial: int) -> str:
    """The card picture's own token (another salt, and it expires), so that the verification link in
    the QR code does not also open the picture with the full name."""
    return URLSafeTimedSerializer(config.app.secret_key, salt=_SALT + "-image").dumps([int(member_id), int(serial)])


def read_image_token(config: Config, value: str) -> tuple[int, int] | None:
    try:
        data = URLSafeTimedSerializer(config.app.secret_key, salt=_SALT + "-image").loads(value, max_age=IMAGE_VALIDITY)
    except BadSignature:  # also SignatureExpired
        return None
    return _pair(data)


def read_token(config: Config, value: str) -> tuple[int, int] | None:
    """(member_id, serial) from a link's token; None if it is not one we signed."""
    try:
        data = _signer(config).loads(value)
    except BadSignature:
        return None
    return _pair(data)


def _pair(data) -> tuple[int, int] | None:
    if (not isinstance(data, list) or len(data) != 2
            or not all(isinstance(x, int) and not isinstance(x, bool) for x in data)):
        return None
    return data[0], data[1]


@dataclass(frozen=True)
class Links:
    verify: str   # the public verification page
    image: str    # the card image (the news reply's picture)


def links(config: Config, card: CardView) -> Links:
    base = config.app.base_url.rstrip("/")
    t = token(config, card.member_id, card.serial)
    # WeChat caches a picture by its URL: a changed card (points, commitment...) gets a new one
    version = hashlib.sha256(repr((card.name, card.branch, card.community_name, card.commitment, card.points,
                                   card.joined_on, card.bound_at, card.revoked)).encode()).hexdigest()[:10]
    return Links(f"{base}/v/{t}", f"{base}/card/{image_token(config, card.member_id, card.serial)}.png?v={version}")
