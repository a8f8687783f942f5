"""Handle one inbound message for one resident: who they are, their open conversation, the router."""
from __future__ import annotations

import logging

from bot.conversation import ConversationStore
from bot.messages import Inbound
from bot.replies import Reply
from bot.router import Context, Router
from bot.runtime import Runtime
from storage import residents
from storage.locks import lease

log = logging.getLogger("nanhu.pipeline")


def handle(rt: Runtime, router: Router, message: Inbound) -> Reply | None:
    """Route `message`; one message at a time per resident, across every process."""
    store = ConversationStore(rt.kv, rt.config.conversation.idle_timeout)
    deadline = rt.config.app.reply_deadline
    with lease(rt.kv, f"resident:{message.openid}", ttl=deadline + 10, wait=deadline * 0.6):
        now = rt.now()
        resident = residents.touch(rt.db, message.openid, now)
        ctx = Context(rt=rt, message=message, resident=resident, now=now,
                      conversation=store.load(message.openid))
        reply = router.dispatch(ctx)
        if ctx._changed:
            if ctx.conversation is None:
                store.clear(message.openid)
            else:
                store.save(message.openid, ctx.conversation)
        elif ctx.conversation is not None:
            store.save(message.openid, ctx.conversation)  # any message in the flow restarts the idle clock
        return reply
