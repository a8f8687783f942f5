"""Multi-turn conversations as explicit state machines.

A Flow names its states and the step that handles a resident's message in each state (like
python-telegram-bot's ConversationHandler). The state of one resident's open conversation is kept in
the shared store (`storage.conversations`), so it survives restarts and is seen by every worker.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import nlp
from bot.wechat.replies import Text
from storage.conversations import Conversation

if TYPE_CHECKING:
    from bot.chat.router import Context, Handler


__all__ = ["PASS", "REROUTE", "Conversation", "Flow", "not_an_answer"]

PASS = object()  # a step's answer meaning "not for me": the flow ends and the message is routed afresh
REROUTE = object()  # a step's answer meaning "handle it as `ctx.intent` says": the step set the intent


class Flow:
    """A named set of states; each state has one step handler."""

    def __init__(self, name: str, title: str, cancel_reply: str | None = None):
        self.name = name
        self.title = title  # what the resident is doing, e.g. "反映问题", used in 帮助 / 取消 replies
        self.cancel_reply = cancel_reply  # what 取消 says, when "nothing was submitted" would be wrong
        self.steps: dict[str, "Handler"] = {}

    def step(self, state: str) -> Callable[["Handler"], "Handler"]:
        def register(handler: "Handler") -> "Handler":
            if state in self.steps:
                raise ValueError(f"{self.name}: state {state!r} registered twice")
            self.steps[state] = handler
            return handler
        return register


def not_an_answer(ctx: "Context", ask_again: str, *own_intents: str) -> "Text | object":
    """What a step says to a message that does not answer its question: PASS when the resident has
    moved on to another request (not one of `own_intents`), else the question again."""
    if nlp.another_request(ctx.message.text, *own_intents):
        return PASS
    return Text(ask_again)
