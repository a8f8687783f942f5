"""亮身份 (issue 7): a bound member's card as a news reply with a generated image, a public verification
page behind a signed link that staff can revoke, and the participation rate. Through the real webhook
and HTTP, on every database and shared store."""
from __future__ import annotations

import io
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import requests
from itsdangerous import URLSafeSerializer
from PIL import Image
from sqlalchemy import func, select

from bot import card_picture as card_images
from bot import links
from storage import cards
from storage.models import AuditEntry, IdentityShow, PartyMember
from tests.conftest import DATABASES

REVOKED_TEXT = "您的党员证已被注销，如有疑问请联系所在社区党委。"


def _require_font() -> None:
    if card_images.find_font() is None:
        pytest.fail("no Chinese font for the identity card image: run `make var/fonts/wqy-microhei.ttc` "
                    "(`make test` does it), or put a Chinese .ttc/.ttf in var/fonts/")


def _member_id(demo, name: str) -> int:
    with demo.rt.db.transaction() as s:
        return s.scalar(select(PartyMember.id).where(PartyMember.name == name))


def _local(url: str) -> str:
    """The path and query of a link the bot made (its host is app.base_url), to fetch from the test server."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _get(demo, url: str) -> requests.Response:
    return requests.get(demo.url + _local(url), timeout=10)


def _show(chat, openid: str) -> dict:
    reply = chat.say(openid, "亮身份")
    assert reply.get("MsgType") == "news", reply
    (article,) = reply["Articles"]
    return article


def _png(demo, url: str) -> Image.Image:
    resp = _get(demo, url)
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "image/png", resp.text[:200]
    image = Image.open(io.BytesIO(resp.content))
    image.load()
    assert image.format == "PNG" and image.size == card_images.SIZE
    return image.convert("RGB")


def _count(image: Image.Image, box, test) -> int:
    region = image.crop(box)
    return sum(1 for px in region.getdata() if test(px))


def _stamp_red(px) -> bool:
    r, g, b = px
    return r > 180 and g < 110 and b < 110


BODY = (10, 112, card_images.QR_BOX[0] - 10, card_images.SIZE[1] - 52)  # inside the border, above the footer


def test_names_are_masked_for_the_public_page():
    assert cards.mask_name("张三华") == "张*华"
    assert cards.mask_name("李四") == "李*"
    assert cards.mask_name("欧阳修文") == "欧**文"
    assert cards.mask_name("王") == "*"


@pytest.mark.http
def test_a_member_shows_a_card_image_whose_link_verifies_it_until_staff_revoke_it(demo, staff_cli):
    _require_font()
    chat = demo.client()
    assert "还没有完成党员认证" in chat.say("o_chen", "亮身份")["Content"]
    assert "认证成功" in chat.say("o_chen", "绑定 836215")["Content"]

    article = _show(chat, "o_chen")
    assert "陈建华" in article["Title"] and "罗湖社区第一党支部" in article["Description"]
    assert "/v/" in article["Url"] and "/card/" in article["PicUrl"]

    # the picture: 900×500, with the name drawn in the name area in the text colour, no stamp
    image = _png(demo, article["PicUrl"])
    assert _count(image, card_images.NAME_BOX, lambda px: px == card_images.INK) > 150
    assert _count(image, BODY, _stamp_red) < 1500

    # the verification page: valid, masked name, branch, community; never the name, phone or openid
    page = _get(demo, article["Url"])
    assert page.status_code == 200
    for shown in ("有效", "陈*华", "罗湖社区第一党支部", "罗湖社区"):
        assert shown in page.text
    for hidden in ("陈建华", "13800138001", "o_chen", "已注销"):
        assert hidden not in page.text

    member_id = _member_id(demo, "陈建华")
    result = staff_cli("card", "revoke", str(member_id), "--reason", "组织关系转出")
    assert result.exit_code == 0 and "revoked" in result.output, result.output
    assert "already revoked" in staff_cli("card", "revoke", str(member_id)).output

    page = _get(demo, article["Url"])
    assert page.status_code == 200 and "已注销" in page.text and "有效" not in page.text and "陈*华" in page.text
    revoked = _png(demo, article["PicUrl"])              # still served, greyed and stamped 已注销
    assert _count(revoked, BODY, _stamp_red) > 3000
    assert chat.say("o_chen", "亮身份")["Content"] == REVOKED_TEXT

    result = staff_cli("card", "reinstate", str(member_id))
    assert result.exit_code == 0 and "reinstated" in result.output, result.output
    assert staff_cli("card", "reinstate", str(member_id)).exit_code != 0    # not revoked any more
    assert "已注销" in _get(demo, article["Url"]).text   # links handed out before stay revoked

    fresh = _show(chat, "o_chen")
    assert fresh["Url"] != article["Url"]
    page = _get(demo, fresh["Url"])
    assert page.status_code == 200 and "有效" in page.text and "已注销" not in page.text
    _png(demo, fresh["PicUrl"])

    with demo.rt.db.transaction() as s:
        actions = s.scalars(select(AuditEntry.action).where(AuditEntry.object_id == str(member_id))).all()
        assert actions.count("party_member.card_revoke") == 1 and actions.count("party_member.card_reinstate") == 1
        revoke_detail = s.scalar(select(AuditEntry.detail).where(AuditEntry.action == "party_member.card_revoke"))
        assert revoke_detail["reason"] == "组织关系转出"
        # shows of a valid card are recorded; the refused one (revoked) is not
        assert s.scalar(select(func.count()).select_from(IdentityShow)) == 2

    listing = staff_cli("card", "list").output
    assert "陈建华" in listing and "13800138001" not in listing and str(member_id) in listing


@pytest.mark.http
def test_forged_or_foreign_card_links_are_404(demo):
    chat = demo.client()
    chat.say("o_li", "绑定 402917")
    reply = chat.say("o_li", "亮身份")
    url = reply["Articles"][0]["Url"] if reply.get("MsgType") == "news" else reply["Content"].split("验真链接：")[1]
    token = urlsplit(url).path.rsplit("/", 1)[1]
    member_id = _member_id(demo, "李秀英")

    assert _get(demo, url).status_code == 200
    foreign = URLSafeSerializer("another-secret", salt="nanhu-card").dumps([member_id, 1])
    other_salt = URLSafeSerializer(demo.rt.config.app.secret_key, salt="nanhu-registration").dumps([member_id, 1])
    for bad in (token[:-2] + ("xx" if not token.endswith("xx") else "yy"), foreign, other_salt, "nonsense"):
        page = requests.get(f"{demo.url}/v/{bad}", timeout=10)
        assert page.status_code == 404 and "无效" in page.text and "李" not in page.text
        assert requests.get(f"{demo.url}/card/{bad}.png", timeout=10).status_code == 404
    # signed by us, but for a card never issued (serial ahead) or a member who does not exist
    for ids in ([member_id, 2], [999999, 1]):
        signed = links.token(demo.rt.config, *ids)
        assert requests.get(f"{demo.url}/v/{signed}", timeout=10).status_code == 404
        assert requests.get(f"{demo.url}/card/{signed}.png", timeout=10).status_code == 404


@pytest.mark.http
def test_without_a_chinese_font_the_card_goes_as_text_with_its_link(demo, monkeypatch, tmp_path):
    monkeypatch.setattr(card_images, "FONT_DIRS", [tmp_path])
    monkeypatch.setattr(card_images, "SYSTEM_FONTS", [])
    chat = demo.client()
    chat.say("o_wang", "绑定 571630")
    reply = chat.say("o_wang", "亮身份")
    text = reply["Content"]
    assert "王志强" in text and "新南社区党支部" in text and "验真链接：" in text
    link = text.split("验真链接：")[1].strip()
    page = _get(demo, link)
    assert page.status_code == 200 and "有效" in page.text and "王*强" in page.text
    borrowed = requests.get(demo.url + urlsplit(link).path.replace("/v/", "/card/") + ".png", timeout=10)
    assert borrowed.status_code == 404  # the verification link's token does not open the picture
    with demo.rt.db.transaction() as s:
        member = s.scalar(select(PartyMember).where(PartyMember.name == "王志强"))
        own = links.image_token(demo.rt.config, member.id, member.card_serial)
    image = requests.get(f"{demo.url}/card/{own}.png", timeout=10)
    assert image.status_code == 503 and not image.headers["Content-Type"].startswith("image/")


def test_a_character_the_font_lacks_is_never_drawn_as_a_box(demo):
    _require_font()
    chat = demo.client()
    chat.say("o_zhang", "绑定 269584")
    with demo.rt.db.transaction() as s:
        s.scalar(select(PartyMember).where(PartyMember.name == "张丽")).commitment = "服务群众\U000F0041"
    reply = chat.say("o_zhang", "亮身份")
    assert reply.get("MsgType") == "text" and "张丽" in reply["Content"] and "验真链接：" in reply["Content"]


@pytest.mark.storage(*DATABASES)
def test_participation_counts_distinct_bound_members_who_showed_in_the_period(demo, staff_cli):
    chat = demo.client()
    for openid, code in (("o_p1", "836215"), ("o_p2", "402917"), ("o_p3", "571630")):
        assert "认证成功" in chat.say(openid, f"绑定 {code}")["Content"]
    chat.say("o_p1", "亮身份")
    chat.say("o_p1", "我的党员证")      # the same member twice counts once
    chat.say("o_p2", "亮身份")
    chat.say("o_nobody", "亮身份")      # not a member: no show

    output = staff_cli("card", "participation").output
    assert "已认证党员 3  亮过身份 2  参与率 66.7%" in output, output
    tomorrow = (demo.rt.now() + timedelta(days=1)).astimezone(demo.rt.tz)
    output = staff_cli("card", "participation", "--since", f"{tomorrow:%Y-%m-%d}").output
    assert "已认证党员 3  亮过身份 0  参与率 0.0%" in output, output
    assert staff_cli("card", "participation", "--since", "2026-13-01").exit_code != 0

    # the period's ends: a show before it does not count, and members bound after it are not in it
    db, now = demo.rt.db, demo.rt.now()
    cards.show(db, "o_p3", now - timedelta(days=40))
    assert cards.participation(db, now - timedelta(days=30), None) == (3, 2, 2 / 3)
    assert cards.participation(db, now - timedelta(days=50), now - timedelta(days=30)) == (0, 0, None)
    assert cards.participation(db, None, None) == (3, 3, 1.0)
    # a revoked card is not shown, so not counted
    cards.revoke(db, _member_id(demo, "王志强"), "staff:admin", now, "")
    assert chat.say("o_p3", "亮身份")["Content"] == REVOKED_TEXT
    assert cards.participation(db, now - timedelta(days=1), None) == (3, 2, 2 / 3)
