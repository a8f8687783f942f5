"""Migrations keep residents' data: an opinion raised before categories existed gets a deadline and its
first response from its timeline, and the schema goes down and up again. SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine, text

from storage import migrate
from storage.db import Database
from storage.models import Opinion

CREATED = datetime(2026, 11, 1, tzinfo=timezone.utc)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_db(request, tmp_path, postgres_url):
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'm.db'}")
    else:
        if not postgres_url:
            pytest.skip("PostgreSQL not configured (set NANHU_TEST_POSTGRES_URL; .ci/run does)")
        engine = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("DROP DATABASE IF EXISTS nanhu_migrations WITH (FORCE)"))
            conn.execute(text("CREATE DATABASE nanhu_migrations"))
        engine.dispose()
        db = Database(postgres_url.rsplit("/", 1)[0] + "/nanhu_migrations")
    yield db
    db.dispose()


def test_opinions_from_before_categories_are_given_a_deadline_and_a_first_response(empty_db):
    db = empty_db
    migrate.upgrade(db, "0003")
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO residents (id, openid, subscribed, created_at, refuses_templates) "
                          "VALUES (1, 'o_old', true, :t, false)"), {"t": CREATED})
        conn.execute(text("INSERT INTO opinions (id, ticket_no, resident_id, content, status, created_at) "
                          "VALUES (1, 'MY20261101001', 1, '路灯坏了', 'in_progress', :t)"), {"t": CREATED})
        conn.execute(text("INSERT INTO opinion_events (opinion_id, at, actor, from_state, to_state, note) VALUES "
                          "(1, :late, 'staff:admin', 'accepted', 'in_progress', ''), "
                          "(1, :early, 'staff:admin', 'submitted', 'accepted', '')"),
                     {"late": CREATED + timedelta(hours=5), "early": CREATED + timedelta(hours=2)})
    migrate.upgrade(db)
    with db.transaction() as s:
        old = s.get(Opinion, 1)
        assert old.due_at == CREATED + timedelta(hours=120) and old.first_response_at == CREATED + timedelta(hours=2)
        assert (old.category, old.location, old.photos, old.public_name) == ("其他", "", [], None)
    migrate.downgrade(db, "0003")  # SQLite recreates the table that opinion_events points at
    assert migrate.current(db) == "0003"
    migrate.upgrade(db)
    assert migrate.current(db) == migrate.head()
    with db.transaction() as s:
        assert s.get(Opinion, 1).content == "路灯坏了"
