"""Row (c): WeRoBot's echo bot with its defaults (werobot==1.13.1, from bench/requirements.txt).

Defaults include WeRoBot's session storage: a SQLite file `werobot_session.sqlite3` in the working
directory, read and written on every message. The bench runs this row in a temporary directory.
"""
from __future__ import annotations

import werobot

TOKEN = "nanhudemotoken"

robot = werobot.WeRoBot(token=TOKEN)


@robot.text
def echo(message):
    return message.content


app = robot.wsgi
