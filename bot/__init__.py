"""The app shell: configuration, logs, the runtime every request and job reaches, the app factory
(`bot.app.create_app`, WSGI `bot.wsgi:app`), and the WeChat side in `wechat/`, `webhook/` and `chat/`."""
