"""The identity card's picture (亮身份), drawn with Pillow; its links are in `bot.links`.

The image is drawn with Pillow and needs a font with Chinese glyphs. It is looked for, without any
configuration, in var/fonts/ (`make var/fonts/wqy-microhei.ttc` puts one there, no root needed) and
then in the usual system places. Without one, or when a text on the card has a character the font
lacks, `CardFontMissing` is raised instead of drawing empty boxes, and the chat sends the card as text.
"""
from __future__ import annotations

import io
import threading
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

import qrcode
from PIL import Image, ImageDraw, ImageFont

from storage.cards import CardView

ROOT = Path(__file__).resolve().parent.parent
FONT_HINT = "run `make var/fonts/wqy-microhei.ttc` (or put a Chinese .ttc/.ttf/.otf font in var/fonts/)"

# places searched, in order: var/fonts/ (beside the code, then the working directory), then systems' own
FONT_DIRS = [ROOT / "var" / "fonts", Path("var") / "fonts"]
SYSTEM_FONTS = [
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/System/Library/Fonts/PingFang.ttc",
    "/System/Library/Fonts/STHeiti Medium.ttc",
    "/Library/Fonts/Arial Unicode.ttf",
    "C:/Windows/Fonts/msyh.ttc",
    "C:/Windows/Fonts/simhei.ttf",
]
PROBE = "南湖街道党员证"   # a font must have these to be considered at all

# the card's geometry and colours (the tests look for INK in NAME_BOX)
SIZE = (900, 500)
RED = (200, 16, 46)
GOLD = (255, 222, 140)
PAPER = (255, 253, 247)
INK = (34, 34, 34)
GREY = (120, 120, 120)
STAMP = (214, 0, 0)
NAME_BOX = (50, 128, 620, 200)
QR_BOX = (650, 140, 860, 350)


class CardFontMissing(RuntimeError):
    """No font that can draw the card's text; the card goes as text instead."""


# --- fonts ----------------------------------------------------------------------------------------------

@lru_cache(maxsize=32)
def _load(path: str, index: int, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size, index=index, layout_engine=ImageFont.Layout.BASIC)


def _face_index(path: str) -> int:
    """Noto's CJK collections start with the Japanese face; take the Simplified Chinese one."""
    if "NotoSansCJK" in path or "NotoSerifCJK" in path:
        try:
            if "SC" in _load(path, 2, 20).getname()[0]:
                return 2
        except OSError:
            pass
    return 0


# FreeType faces are not safe to share between threads while drawing: one card is drawn at a time
_lock = threading.RLock()
_notdef: dict[tuple[str, int], tuple] = {}
_probed: dict[tuple[str, int], bool] = {}


def _glyph(font: ImageFont.FreeTypeFont, ch: str) -> tuple:
    mask = font.getmask(ch)
    return mask.size, bytes(mask)


def missing_glyphs(font: ImageFont.FreeTypeFont, text: str) -> str:
    """The characters of `text` that `font` would draw as its empty box (.notdef)."""
    key = (font.path, font.index, font.size)
    with _lock:
        if key not in _notdef:
            _notdef[key] = _glyph(font, "\U0010FFFD")   # a private-use code point no font maps
        notdef = _notdef[key]
        return "".join(dict.fromkeys(ch for ch in text if not ch.isspace() and _glyph(font, ch) == notdef))


def candidates() -> list[Path]:
    found: list[Path] = []
    for d in FONT_DIRS:
        if d.is_dir():
            found += sorted(p for p in d.iterdir() if p.suffix.lower() in (".ttc", ".ttf", ".otf"))
    found += [Path(p) for p in SYSTEM_FONTS]
    return found


def find_font() -> tuple[str, int] | None:
    """(path, face index) of the first font found that draws Chinese; None if there is none."""
    seen = set()
    for path in candidates():
        key = str(path.resolve()) if path.exists() else None
        if key is None or key in seen:
            continue
        seen.add(key)
        try:
            index = _face_index(key)
            if (key, index) not in _probed:
                _probed[key, index] = not missing_glyphs(_load(key, index, 24), PROBE)
        except OSError:
            continue
        if _probed[key, index]:
            return key, index
    return None


def _font(size: int) -> ImageFont.FreeTypeFont:
    found = find_font()
    if found is None:
        raise CardFontMissing(f"no font with Chinese characters for the identity card: {FONT_HINT}")
    return _load(found[0], found[1], size)


def _texts(card: CardView, tz: ZoneInfo) -> list[str]:
    label, since = card.member_since(tz)
    return [card.name, card.masked_name, card.role, card.branch, card.community_name or "", card.commitment,
            label, since, str(card.points), "南湖街道 · 党员证 社区支部服务承诺积分扫码验真编号已注销",
            "我是党员，我带头；有事找我，我来帮。"]


def ensure_renderable(card: CardView, tz: ZoneInfo) -> None:
    """Raise CardFontMissing unless every character on this card can be drawn (no empty boxes)."""
    font = _font(24)
    missing = missing_glyphs(font, "".join(_texts(card, tz)))
    if missing:
        raise CardFontMissing(f"the card font {Path(font.path).name} lacks {missing!r}")


# --- drawing --------------------------------------------------------------------------------------------

def _fit(draw: ImageDraw.ImageDraw, text: str, font, width: int, lines: int) -> list[str]:
    """`text` broken into at most `lines` lines of `width` pixels, the last cut with an ellipsis."""
    out, line = [], ""
    for ch in text:
        if draw.textlength(line + ch, font=font) <= width:
            line += ch
            continue
        out.append(line)
        line = ch
        if len(out) == lines:
            break
    else:
        out.append(line)
        return [x for x in out if x]
    last = out[-1]
    while last and draw.textlength(last + "…", font=font) > width:
        last = last[:-1]
    out[-1] = last + "…"
    return out


def _star(draw: ImageDraw.ImageDraw, cx: float, cy: float, r: float, fill) -> None:
    import math

    points = []
    for i in range(10):
        radius = r if i % 2 == 0 else r * 0.4
        angle = -math.pi / 2 + i * math.pi / 5
        points.append((cx + radius * math.cos(angle), cy + radius * math.sin(angle)))
    draw.polygon(points, fill=fill)


def _qr(draw: ImageDraw.ImageDraw, text: str, box: tuple[int, int, int, int], ink) -> None:
    qr = qrcode.QRCode(border=1, error_correction=qrcode.constants.ERROR_CORRECT_M)
    qr.add_data(text)
    qr.make(fit=True)
    matrix = qr.get_matrix()
    n = len(matrix)
    cell = (box[2] - box[0]) // n
    x0 = box[0] + ((box[2] - box[0]) - cell * n) // 2
    y0 = box[1] + ((box[3] - box[1]) - cell * n) // 2
    draw.rectangle((x0, y0, x0 + cell * n - 1, y0 + cell * n - 1), fill=(255, 255, 255))
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            if dark:
                draw.rectangle((x0 + x * cell, y0 + y * cell, x0 + (x + 1) * cell - 1, y0 + (y + 1) * cell - 1),
                               fill=ink)


def _stamp(image: Image.Image, text: str, font) -> Image.Image:
    layer = Image.new("RGBA", image.size, (0, 0, 0, 0))
    d = ImageDraw.Draw(layer)
    w, h = d.textlength(text, font=font), font.size
    cx, cy = image.size[0] // 2 - 60, image.size[1] // 2 + 30
    box = (cx - w / 2 - 30, cy - h / 2 - 24, cx + w / 2 + 30, cy + h / 2 + 30)
    d.rounded_rectangle(box, radius=18, outline=STAMP + (210,), width=10)
    d.text((cx, cy), text, font=font, fill=STAMP + (210,), anchor="mm")
    layer = layer.rotate(12, resample=Image.Resampling.BICUBIC, center=(cx, cy))
    return Image.alpha_composite(image.convert("RGBA"), layer).convert("RGB")


def render(card: CardView, verify_url: str, tz: ZoneInfo) -> bytes:
    """The card as a PNG. A revoked card shows the masked name, greyed, stamped 已注销."""
    with _lock:
        return _render(card, verify_url, tz)


def _render(card: CardView, verify_url: str, tz: ZoneInfo) -> bytes:
    ensure_renderable(card, tz)
    title, name_font, field, small = _font(46), _font(54), _font(28), _font(22)
    header = GREY if card.revoked else RED
    image = Image.new("RGB", SIZE, PAPER)
    draw = ImageDraw.Draw(image)
    w, h = SIZE

    draw.rectangle((0, 0, w, 108), fill=header)
    _star(draw, 68, 54, 32, GOLD)
    draw.text((118, 54), "南湖街道 · 党员证", font=title, fill=(255, 255, 255), anchor="lm")
    draw.rectangle((0, h - 48, w, h), fill=(250, 232, 232) if not card.revoked else (236, 236, 236))
    draw.text((w // 2, h - 24), "我是党员，我带头；有事找我，我来帮。", font=small, fill=header, anchor="mm")
    draw.rectangle((0, 0, w - 1, h - 1), outline=header, width=3)

    name = card.masked_name if card.revoked else card.name
    x, y = NAME_BOX[0], NAME_BOX[1] + 8
    draw.text((x, y), name, font=name_font, fill=INK, stroke_width=1, stroke_fill=INK)
    tag_x = x + draw.textlength(name, font=name_font) + 24
    tag_w = draw.textlength(card.role, font=small) + 24
    draw.rounded_rectangle((tag_x, y + 16, tag_x + tag_w, y + 54), radius=8, outline=header, width=2)
    draw.text((tag_x + tag_w / 2, y + 35), card.role, font=small, fill=header, anchor="mm")

    label, since = card.member_since(tz)
    fields = [("支　　部", card.branch), ("社　　区", card.community_name or "—"), ("服务积分", str(card.points)),
              (label, since)]
    if card.commitment:
        fields.append(("服务承诺", card.commitment))
    y = 206
    value_x = x + draw.textlength("服务承诺：", font=field)
    width = QR_BOX[0] - 30 - value_x
    for key, value in fields:
        draw.text((x, y), key + "：", font=field, fill=GREY)
        lines = _fit(draw, value, field, int(width), 2 if key == "服务承诺" else 1)
        for line in lines:
            draw.text((value_x, y), line, font=field, fill=INK)
            y += 38
        y += 4

    _qr(draw, verify_url, QR_BOX, INK)
    draw.text(((QR_BOX[0] + QR_BOX[2]) // 2, QR_BOX[3] + 22), "扫码验真", font=small, fill=GREY, anchor="mm")
    draw.text(((QR_BOX[0] + QR_BOX[2]) // 2, QR_BOX[3] + 52), f"编号 {card.member_id:06d}-{card.serial}",
              font=small, fill=GREY, anchor="mm")

    if card.revoked:
        image = _stamp(image, "已注销", _font(96))
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def as_text(card: CardView, tz: ZoneInfo, verify_url: str) -> str:
    """The card as a chat text, when it cannot be drawn."""
    label, since = card.member_since(tz)
    commitment = f"服务承诺：{card.commitment}\n" if card.commitment else ""
    return (f"【南湖街道 党员证】\n姓名：{card.name}\n支部：{card.branch}\n社区：{card.community_name or '—'}\n"
            f"服务积分：{card.points}\n{label}：{since}\n{commitment}\n我是党员，我带头；有事找我，我来帮。\n\n"
            f"验真链接：{verify_url}")

