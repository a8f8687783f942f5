"""Web pages: the staff admin (`web.admin`) and the public pages residents open from chat
(`web.public`). Pages call the same storage services as the chat handlers and the CLI."""
