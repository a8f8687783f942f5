"""Handlers speak to residents and staff in chat: intent and conversation state in, service calls and
Chinese replies out. Each module registers on a Router of its own; `bot.app.build_router` includes
them all. Handlers hold no SQL: they call storage services."""
