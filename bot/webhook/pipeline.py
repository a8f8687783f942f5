"""Handle one inbound message for one resident: who they are, their open conversation, the router."""
from __future__ import annotations

import logging

from bot.chat.router import Context, Router
from bot.runtime import Runtime
from bot.webhook.turn import Turn
from bot.wechat.messages import Inbound
from bot.wechat.replies import Reply
from storage import residents

log = logging.getLogger("nanhu.pipeline")

# What WeChat counts as a resident's interaction (it opens the 48-hour customer-service window):
# messages, following, scanning a QR code, clicking a CLICK menu. Link-menu views, automatic
# location reports and delivery reports are not the resident talking to us.
_NOT_INTERACTIONS = {"view", "location", "templatesendjobfinish", "masssendjobfinish"}


def is_resident_talking(message: Inbound) -> bool:
    """Whether the message takes the resident's lease and is recorded as their interaction."""
    return not (message.type == "event" and message.event in _NOT_INTERACTIONS)


def handle(rt: Runtime, router: Router, message: Inbound, turn: Turn) -> Reply | None:
    """Route `message`; one message at a time per resident, across every process (the turn's lease).
    What the turn should keep (conversation, resident) is stored when the webhook closes it."""
    if not is_resident_talking(message):
        return router.dispatch(Context(rt=rt, message=message, resident=None, now=rt.now()))
    turn.wait_for_lease(rt.config.app.reply_deadline * 0.6)
    now = rt.now()
    resident = turn.resident
    if resident is None:
        resident = residents.touch(rt.db, message.openid, now)
        turn.keep_resident(resident)
    ctx = Context(rt=rt, message=message, resident=resident, now=now, conversation=turn.conversation)
    with residents.watching_changes() as changed:
        try:
            reply = router.dispatch(ctx)
        finally:  # a handler that changed the resident and then failed has still changed them
            if changed:
                turn.forget_resident()
    turn.keep_conversation(ctx.conversation, ctx._changed)
    return reply
