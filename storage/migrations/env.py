"""Alembic environment: the URL and engine come from nanhu's Database, the metadata from storage.models."""
from alembic import context

from storage.models import Base

config = context.config


def run_migrations_online() -> None:
    connectable = config.attributes["connection"]
    context.configure(connection=connectable, target_metadata=Base.metadata,
                      render_as_batch=connectable.dialect.name == "sqlite", compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
