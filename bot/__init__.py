"""The WeChat side of nanhu: webhook, router, conversations, queue and CLI."""
