"""Short answers to the bot's own questions: yes/no, as residents actually type them."""
from __future__ import annotations

YES = {"是", "是的", "对", "对的", "对呀", "好", "好的", "好啊", "行", "确认", "提交", "确定", "可以", "嗯", "嗯嗯",
       "没错", "没问题", "ok", "okay", "y", "yes", "1"}
NO = {"否", "不", "不是", "不是的", "不对", "错了", "不要", "不用", "不用了", "算了", "no", "n", "2"}


def yes_no(text: str) -> bool | None:
    """True for yes, False for no, None when the (normalised) text is neither."""
    t = text.strip().rstrip("!.~。！").lower()
    if t in YES:
        return True
    if t in NO:
        return False
    return None
