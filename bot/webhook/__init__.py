"""Receiving a push on `/wechat`: the WSGI receiver (receiver), the per-process handler threads that
keep the five-second deadline (handoff), and one push's turn (turn: dedup, the resident, the
conversation, the router's reply) in the shared store."""
