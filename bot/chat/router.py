"""One path from message to reply.

Order: events and menu clicks → global words (取消 / 帮助 / 菜单 override any open flow) → the
resident's open conversation step → the intent from `nlp` → its handler → fallback.
Handlers register on a Router by intent, event, menu key or message type; routers include others
(as in aiogram 3).
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable

import nlp
from bot.chat.conversation import PASS, REROUTE, Conversation, Flow
from bot.wechat.messages import Inbound
from bot.wechat.replies import Reply

if TYPE_CHECKING:
    from bot.runtime import Runtime
    from storage.residents import ResidentView

log = logging.getLogger("nanhu.router")

_PUNCT = re.compile(r"[\s\.,!?;:~。，！？；：、…·\-—_\"'“”‘’()（）【】\[\]]+")


def bare(text: str) -> str:
    """Normalised text without spaces and punctuation, for exact global-word matching ("?" stays "?")."""
    return _PUNCT.sub("", text) or text.strip()


@dataclass
class Context:
    rt: "Runtime"
    message: Inbound
    resident: "ResidentView | None"                # None for events that are not the resident talking
    now: datetime
    text: str = ""                                  # normalised text of the message
    intent: nlp.Intent | None = None
    conversation: Conversation | None = None
    flows: dict[str, Flow] = field(default_factory=dict)
    args: str = ""                                  # what followed a command word (核销 123456 → "123456")
    _changed: bool = False

    @property
    def flow(self) -> Flow | None:
        return self.flows.get(self.conversation.flow) if self.conversation else None

    def begin(self, flow: Flow, state: str, **data: Any) -> None:
        if state not in flow.steps:
            raise ValueError(f"{flow.name} has no state {state!r}")
        self.conversation = Conversation(flow.name, state, dict(data))
        self._changed = True

    def goto(self, state: str, **data: Any) -> None:
        assert self.conversation is not None, "goto() outside a conversation"
        if state not in self.flows[self.conversation.flow].steps:
            raise ValueError(f"{self.conversation.flow} has no state {state!r}")
        self.conversation.state = state
        self.conversation.data.update(data)
        self._changed = True

    def end(self) -> None:
        self.conversation = None
        self._changed = True


Handler = Callable[[Context], Any]   # returns a Reply, None (answer `success`) or PASS (steps only)


class Router:
    def __init__(self, name: str = "root"):
        self.name = name
        self.intents: dict[str, Handler] = {}
        self.events: dict[str, Handler] = {}
        self.menu_keys: dict[str, Handler] = {}
        self.message_types: dict[str, Handler] = {}
        self.global_words: dict[str, Handler] = {}
        self.commands: dict[str, tuple[re.Pattern[str], Handler, bool]] = {}
        self.flows: dict[str, Flow] = {}
        self.intent_checks: list[Handler] = []
        self.fallback_handler: Handler | None = None

    @staticmethod
    def _add(table: dict, key: str, handler: Handler, what: str) -> None:
        if key in table:
            raise ValueError(f"{what} {key!r} has two handlers")
        table[key] = handler

    def intent(self, *names: str) -> Callable[[Handler], Handler]:
        def register(h: Handler) -> Handler:
            for name in names:
                if name not in nlp.INTENTS:
                    raise ValueError(f"unknown intent {name!r}")
                self._add(self.intents, name, h, "intent")
            return h
        return register

    def event(self, *names: str) -> Callable[[Handler], Handler]:
        def register(h: Handler) -> Handler:
            for name in names:
                self._add(self.events, name.lower(), h, "event")
            return h
        return register

    def menu(self, *keys: str) -> Callable[[Handler], Handler]:
        def register(h: Handler) -> Handler:
            for key in keys:
                self._add(self.menu_keys, key, h, "menu key")
            return h
        return register

    def message_type(self, *types: str) -> Callable[[Handler], Handler]:
        def register(h: Handler) -> Handler:
            for t in types:
                self._add(self.message_types, t, h, "message type")
            return h
        return register

    def global_word(self, *words: str) -> Callable[[Handler], Handler]:
        def register(h: Handler) -> Handler:
            for w in words:
                self._add(self.global_words, bare(nlp.normalize(w)), h, "global word")
            return h
        return register

    def command(self, *words: str, args: str, overrides_conversation: bool = True) -> Callable[[Handler], Handler]:
        """A global word followed by arguments matching the regular expression `args` (核销 123456), on
        the normalised text with its spaces. Like global words it overrides any open conversation; the
        arguments are in `ctx.args`. With `overrides_conversation=False` an open conversation's step
        sees the message first (a word residents also use in sentences, like 评价)."""
        pattern = re.compile(args, re.S)

        def register(h: Handler) -> Handler:
            for w in words:
                self._add(self.commands, bare(nlp.normalize(w)), (pattern, h, overrides_conversation), "command")
            return h
        return register

    def fallback(self, h: Handler) -> Handler:
        if self.fallback_handler is not None:
            raise ValueError("two fallback handlers")
        self.fallback_handler = h
        return h

    def before_intent(self, h: Handler) -> Handler:
        """A check on the classified intent before its handler runs: a reply takes over (a clarifying
        question), None declines."""
        self.intent_checks.append(h)
        return h

    def add_flow(self, flow: Flow) -> Flow:
        self._add(self.flows, flow.name, flow, "flow")  # type: ignore[arg-type]
        return flow

    def include(self, other: "Router") -> "Router":
        for table in ("intents", "events", "menu_keys", "message_types", "global_words", "commands", "flows"):
            for key, h in getattr(other, table).items():
                self._add(getattr(self, table), key, h, table)
        self.intent_checks += other.intent_checks
        if other.fallback_handler:
            self.fallback(other.fallback_handler)
        return self

    # --- dispatch -------------------------------------------------------------------------------

    def dispatch(self, ctx: Context) -> Reply | None:
        ctx.flows = self.flows
        msg = ctx.message
        if msg.type == "event":
            if msg.event == "click":
                handler = self.menu_keys.get(msg.event_key or "")
                if handler is None:
                    log.warning("menu key %r has no handler", msg.event_key)
                    return self._fallback(ctx)
                return self._call(handler, ctx)
            handler = self.events.get(msg.event or "")
            return self._call(handler, ctx) if handler else None

        ctx.text = nlp.normalize(msg.text) if msg.text else ""
        handler = self.global_words.get(bare(ctx.text)) if ctx.text else None
        if handler:
            return self._call(handler, ctx)
        command = self._command(ctx, overriding=True)
        if command:
            return self._call(command, ctx)

        if ctx.conversation is not None:
            flow = ctx.flows.get(ctx.conversation.flow)
            step = flow.steps.get(ctx.conversation.state) if flow else None
            if step is None:  # the flow or state no longer exists (code changed under a stored conversation)
                ctx.end()
            else:
                result = step(ctx)
                if result is REROUTE:
                    return self.run_intent(ctx)
                if result is not PASS:
                    return result
                ctx.end()

        command = self._command(ctx, overriding=False)
        if command:
            return self._call(command, ctx)

        if msg.type != "text" and not ctx.text:
            handler = self.message_types.get(msg.type)
            return self._call(handler, ctx) if handler else self._fallback(ctx)

        ctx.intent = nlp.classify(msg.text)
        for check in self.intent_checks:
            if (reply := check(ctx)) is not None:
                return reply
        return self.run_intent(ctx)

    def _command(self, ctx: Context, overriding: bool) -> Handler | None:
        said = ctx.text.strip()
        for word, (pattern, command, overrides) in self.commands.items():
            if overrides == overriding and said.startswith(word) and \
                    pattern.fullmatch(rest := said[len(word):].strip(" :：,，")):
                ctx.args = rest
                return command
        return None

    def run_intent(self, ctx: Context) -> Reply | None:
        """The handler of `ctx.intent`, or the fallback."""
        handler = self.intents.get(ctx.intent.name)
        return self._call(handler, ctx) if handler else self._fallback(ctx)

    def _call(self, handler: Handler, ctx: Context) -> Reply | None:
        result = handler(ctx)
        if result is PASS:
            raise RuntimeError(f"{handler.__name__} returned PASS outside a conversation step")
        return result

    def _fallback(self, ctx: Context) -> Reply | None:
        return self._call(self.fallback_handler, ctx) if self.fallback_handler else None
