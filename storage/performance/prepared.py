"""Core statements for the hot path, compiled once and run on SQLite's own cursor: the dialect's SQL and the
columns' type conversions, without SQLAlchemy's per-call execution context. Errors are wrapped as SQLAlchemy's;
on other databases the statement runs through SQLAlchemy as usual."""
from __future__ import annotations

import contextlib
import sqlite3
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.sql import Executable, Insert


@contextlib.contextmanager
def driver_errors(sql: str) -> Iterator[None]:
    """sqlite3's errors in a call straight to the driver, raised as SQLAlchemy would raise them (a locked
    database as OperationalError, a refused foreign key as IntegrityError), without the parameters."""
    try:
        yield
    except sqlite3.Error as exc:
        raise DBAPIError.instance(sql, None, exc, sqlite3.Error, hide_parameters=True) from exc


@dataclass(frozen=True)
class _Compiled:
    sql: str
    compiled: Any
    binds: tuple[tuple[str, Callable | None], ...]  # each positional parameter's name and conversion
    results: tuple[Callable | None, ...]             # each result column's conversion


class Prepared:
    """`Prepared(stmt).rows(conn, params)`: the rows as tuples (empty for a statement returning none)."""

    def __init__(self, statement: Executable, columns: Sequence[str] = ()):
        """`columns`: for an INSERT without `.values()`, the columns every call gives (a column left out
        gets no value, not its Python default, so leaving out one that has a default is refused here)."""
        self.statement = statement
        self.columns = list(columns)
        if isinstance(statement, Insert) and self.columns:
            missing = [c.name for c in statement.table.columns
                       if c.default is not None and c.name not in self.columns]
            if missing:
                raise ValueError(f"Prepared INSERT must give the columns with Python defaults: {missing}")
        self._compiled: _Compiled | None = None

    def rows(self, conn: Connection, params: dict[str, Any]) -> list[tuple]:
        if conn.dialect.name != "sqlite":
            result = conn.execute(self.statement, params)
            return [tuple(r) for r in result] if result.returns_rows else []
        c = self._compiled or self._compile(conn.dialect)
        args = self._args(c, params)
        with driver_errors(c.sql):
            cursor = conn.connection.dbapi_connection.execute(c.sql, args)
            fetched = cursor.fetchall() if cursor.description else []
        if not any(c.results):
            return fetched
        return [tuple(convert(v) if convert else v for convert, v in zip(c.results, row, strict=False))
                for row in fetched]

    def many(self, conn: Connection, params: list[dict[str, Any]]) -> None:
        """The statement once for each of `params` (an INSERT of several rows), rows not returned."""
        if conn.dialect.name != "sqlite":
            conn.execute(self.statement, params)
            return
        c = self._compiled or self._compile(conn.dialect)
        args = [self._args(c, one) for one in params]
        with driver_errors(c.sql):
            conn.connection.dbapi_connection.executemany(c.sql, args)

    @staticmethod
    def _args(c: _Compiled, params: dict[str, Any]) -> tuple:
        """The positional parameters, converted; a value the column's type refuses (a naive datetime, say)
        raises StatementError, as it would through SQLAlchemy."""
        try:
            values = c.compiled.construct_params(params)  # adds the statement's own literals (value + 1 ...)
            return tuple(convert(values[name]) if convert else values[name] for name, convert in c.binds)
        except Exception as exc:
            raise StatementError(str(exc), c.sql, None, exc) from exc

    def first(self, conn: Connection, params: dict[str, Any]) -> tuple | None:
        found = self.rows(conn, params)
        return found[0] if found else None

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled = self.statement.compile(dialect=dialect, column_keys=self.columns or None)
        if compiled.positiontup is None or compiled.post_compile_params:
            raise ValueError("Prepared needs a positional paramstyle and no expanding parameters")
        # dialect_impl: the type as this dialect stores it (SQLite's DATETIME is text in SQLAlchemy's format)
        binds = tuple((name, compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect))
                      for name in compiled.positiontup)
        results = tuple(col.type.dialect_impl(dialect).result_processor(dialect, None)
                        for col in self.statement.exported_columns)
        self._compiled = _Compiled(compiled.string, compiled, binds, results)
        return self._compiled
