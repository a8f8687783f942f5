"""Models, migrations, sessions, locking and the domain rules. Handlers and the staff CLI call the services here."""
