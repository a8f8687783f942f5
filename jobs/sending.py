"""The direct send, outside the outbox: only for a late reply the database could not take down
(`bot.webhook.receiver`); every other message to a resident is a notice (`storage.notices`)."""
from __future__ import annotations

import logging

from bot import runtime
from storage import residents

log = logging.getLogger("nanhu.jobs")


def send_text(openid: str, content: str) -> str:
    """Send a customer-service text message, unless the resident has unfollowed us."""
    rt = runtime.current()
    if not residents.is_subscribed(rt.db, openid):
        log.info("not sending to a resident who does not follow the account")
        return "skipped: unsubscribed"
    rt.wechat.message.send_text(openid, content)
    return "sent"
