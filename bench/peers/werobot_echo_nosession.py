"""Row (c'): WeRoBot 1.13.1's echo bot with its defaults but one: sessions off (SESSION_STORAGE=False).

WeRoBot's default session storage is one SQLite connection per process, shared by every thread; under
gunicorn's threaded workers (nanhu's settings) concurrent messages fail on it ("database is locked",
"cannot start a transaction within a transaction") or wait out SQLite's 5 s busy timeout. With sessions
off the same echo bot runs cleanly, so this row is the working WeRoBot figure the targets compare with.
"""
from __future__ import annotations

import werobot

TOKEN = "nanhudemotoken"

robot = werobot.WeRoBot(token=TOKEN, SESSION_STORAGE=False)


@robot.text
def echo(message):
    return message.content


app = robot.wsgi
