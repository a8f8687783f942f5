"""Models, migrations, sessions, locking and the domain rules. The chat handlers, the web pages and the
CLI call the services here: one transaction per action, its audit row and outbox rows with it.
Lifecycles are tables (`*_states.py` on `lifecycle.py`); refusals carry codes (`rejections.py`)."""
