"""The hot path's statements on SQLite's own cursor (`storage.performance.prepared`) store and read exactly what the
same statements store and read through SQLAlchemy, and fail the same way."""
from __future__ import annotations

import shutil
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import bindparam, insert, select
from sqlalchemy.exc import IntegrityError

from storage.db import Database
from storage.models import AuditEntry, Opinion
from storage.performance.prepared import Prepared

AUDIT = AuditEntry.__table__
COLUMNS = ["actor", "action", "object_type", "object_id", "at", "detail"]


@pytest.fixture
def db(sqlite_template, tmp_path):
    path = tmp_path / "p.db"
    shutil.copy(sqlite_template, path)
    database = Database(f"sqlite:///{path}")
    yield database
    database.dispose()


def _entry(object_id: str, at: datetime) -> dict:
    return {"actor": "resident:7", "action": "opinion.submit", "object_type": "opinion", "object_id": object_id,
            "at": at, "detail": {"category": "环境卫生", "community_id": 3}}


def test_a_row_written_on_the_cursor_is_stored_as_sqlalchemy_stores_it(db):
    at = datetime(2026, 11, 29, 8, 30, 15, 123456, tzinfo=timezone.utc)
    with db.connection() as conn:
        Prepared(insert(AUDIT), COLUMNS).rows(conn, _entry("on-cursor", at))
        conn.execute(insert(AUDIT), _entry("through-core", at))
    with db.connection(read_only=True) as conn:
        raw = conn.exec_driver_sql("SELECT at, detail FROM audit_log ORDER BY id").all()
    assert raw[0] == raw[1]  # the same text for the datetime and the JSON
    with db.transaction(read_only=True) as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.object_id == "on-cursor")).one()
    assert entry.at == at and entry.at.tzinfo is not None
    assert entry.detail == {"category": "环境卫生", "community_id": 3}


def test_rows_come_back_converted_as_sqlalchemy_converts_them(db):
    at = datetime(2026, 11, 29, 8, 30, tzinfo=timezone.utc)
    with db.connection() as conn:
        conn.execute(insert(AUDIT), [_entry(str(i), at + timedelta(minutes=i)) for i in range(3)])
    query = select(AUDIT.c.object_id, AUDIT.c.at, AUDIT.c.detail).where(AUDIT.c.at >= bindparam("since")) \
        .order_by(AUDIT.c.id.desc())
    with db.connection(read_only=True) as conn:
        fast = Prepared(query).rows(conn, {"since": at + timedelta(minutes=1)})
        core = [tuple(r) for r in conn.execute(query, {"since": at + timedelta(minutes=1)})]
    assert fast == core == [("2", at + timedelta(minutes=2), _entry("", at)["detail"]),
                            ("1", at + timedelta(minutes=1), _entry("", at)["detail"])]


def test_a_failing_statement_raises_sqlalchemys_error_and_the_transaction_is_rolled_back(db):
    bad = {"ticket_no": "MY20261129001", "resident_id": 999_999, "community_id": None, "content": "楼下垃圾",
           "status": "submitted", "created_at": datetime.now(timezone.utc), "category": "其他",
           "department": None, "due_at": None, "location": "", "latitude": None, "longitude": None,
           "photos": [], "public_name": None}
    with pytest.raises(IntegrityError):  # no such resident
        with db.connection() as conn:
            Prepared(insert(AUDIT), COLUMNS).rows(conn, _entry("before", datetime.now(timezone.utc)))
            Prepared(insert(Opinion.__table__), list(bad)).rows(conn, bad)
    with db.connection(read_only=True) as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM audit_log").scalar() == 0


def test_an_insert_that_leaves_out_a_column_with_a_python_default_is_refused():
    with pytest.raises(ValueError, match="at"):  # `at` defaults to now in Python, which the cursor would not do
        Prepared(insert(AUDIT), ["actor", "action", "object_type", "object_id", "detail"])


def test_a_value_the_column_refuses_raises_statement_error_as_through_sqlalchemy(db):
    from sqlalchemy.exc import StatementError

    naive = datetime(2026, 11, 29, 8, 30)  # UTCDateTime refuses a datetime without a time zone
    with pytest.raises(StatementError, match="naive"):
        with db.connection() as conn:
            Prepared(insert(AUDIT), COLUMNS).rows(conn, _entry("naive", naive))
    with pytest.raises(StatementError, match="naive"):
        with db.connection() as conn:
            conn.execute(insert(AUDIT), _entry("naive", naive))
