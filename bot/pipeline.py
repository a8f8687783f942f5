"""Handle one inbound message for one resident: who they are, their open conversation, the router."""
from __future__ import annotations

import logging

from bot.conversation import ConversationStore
from bot.messages import Inbound
from bot.replies import Reply
from bot.router import Context, Router
from bot.runtime import Runtime
from storage import residents
from storage.kv import KVUnavailable
from storage.locks import lease

log = logging.getLogger("nanhu.pipeline")

# What WeChat counts as a resident's interaction (it opens the 48-hour customer-service window):
# messages, following, scanning a QR code, clicking a CLICK menu. Link-menu views, automatic
# location reports and delivery reports are not the resident talking to us.
_NOT_INTERACTIONS = {"view", "location", "templatesendjobfinish", "masssendjobfinish"}


def handle(rt: Runtime, router: Router, message: Inbound) -> Reply | None:
    """Route `message`; one message at a time per resident, across every process."""
    if message.type == "event" and message.event in _NOT_INTERACTIONS:
        return router.dispatch(Context(rt=rt, message=message, resident=None, now=rt.now()))
    store = ConversationStore(rt.kv, rt.config.conversation.idle_timeout)
    deadline = rt.config.app.reply_deadline
    with lease(rt.kv, f"resident:{message.openid}", ttl=deadline + 10, wait=deadline * 0.6):
        now = rt.now()
        resident = residents.touch(rt.db, message.openid, now)
        ctx = Context(rt=rt, message=message, resident=resident, now=now,
                      conversation=store.load(message.openid))
        reply = router.dispatch(ctx)
        _keep_conversation(store, message.openid, ctx)
        return reply


def _keep_conversation(store: ConversationStore, openid: str, ctx: Context) -> None:
    """Save where the conversation stands. Best effort: the handler's work is already committed, and
    losing its reply over this would invite the resident to do it again."""
    try:
        if ctx.conversation is None:
            if ctx._changed:
                store.clear(openid)
        else:
            store.save(openid, ctx.conversation)  # any message in the flow restarts the idle clock
    except KVUnavailable as exc:
        log.error("conversation state not saved (%s); the reply still goes out", exc)
