"""Where things are in a TOML file, so a checker can name the line of a bad entry.

tomllib parses values but forgets positions. This scanner understands just enough TOML to map
`[table]`, `[[array of tables]]` and `key = value` lines to line numbers: quoted and bare keys,
values spanning several lines (arrays, inline tables) and comments. It never rejects a file;
syntax errors are tomllib's job.
"""
from __future__ import annotations

import re

Path = tuple[str | int, ...]  # ("keywords", "event.signup") or ("redirect", 2) for the third [[redirect]]

_KEY = re.compile(r"""\s*(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|([A-Za-z0-9_-]+))\s*=""")
_HEADER_PART = re.compile(r"""\s*(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|([A-Za-z0-9_-]+))\s*(?:\.|$)""")


def _split_header(inner: str) -> tuple[str, ...]:
    parts: list[str] = []
    pos = 0
    while pos < len(inner):
        m = _HEADER_PART.match(inner, pos)
        if not m or m.end() == pos:
            break
        parts.append(next(g for g in m.groups() if g is not None))
        pos = m.end()
    return tuple(parts)


def _depth_change(text: str) -> tuple[int, str]:
    """Net [ { minus ] } outside strings, and the text before any comment."""
    depth, quote, i = 0, "", 0
    while i < len(text):
        c = text[i]
        if quote:
            if c == "\\" and quote == '"':
                i += 1
            elif c == quote:
                quote = ""
        elif c in "\"'":
            quote = c
        elif c == "#":
            return depth, text[:i]
        elif c in "[{":
            depth += 1
        elif c in "]}":
            depth -= 1
        i += 1
    return depth, text


class TomlLines:
    """Line numbers (1-based) of the tables, keys and values of one TOML text."""

    def __init__(self, text: str) -> None:
        self._lines = text.splitlines()
        self._tables: dict[Path, int] = {}
        self._keys: dict[tuple[Path, str], tuple[int, int]] = {}  # first and last line of the value
        counts: dict[tuple[str, ...], int] = {}
        table: Path = ()
        n, total = 0, len(self._lines)
        while n < total:
            line = self._lines[n]
            stripped = line.strip()
            if stripped.startswith("[["):
                name = _split_header(stripped[2:stripped.find("]]")] if "]]" in stripped else stripped[2:])
                index = counts.get(name, 0)
                counts[name] = index + 1
                table = (*name, index)
                self._tables.setdefault(table, n + 1)
            elif stripped.startswith("["):
                end = stripped.find("]")
                table = _split_header(stripped[1:end] if end > 0 else stripped[1:])
                self._tables.setdefault(table, n + 1)
            else:
                m = _KEY.match(line)
                if m:
                    key = next(g for g in m.groups() if g is not None)
                    first = n
                    depth, _ = _depth_change(line[m.end():])
                    while depth > 0 and n + 1 < total:
                        n += 1
                        change, _ = _depth_change(self._lines[n])
                        depth += change
                    self._keys.setdefault((table, key), (first + 1, n + 1))
            n += 1

    def table(self, path: Path) -> int | None:
        """The header line of a table; failing that, of the first table inside it ([a] is
        implied by [a.b]), or of the nearest table above it."""
        if path in self._tables:
            return self._tables[path]
        inside = [line for p, line in self._tables.items() if p[:len(path)] == path]
        if path and inside:
            return min(inside)
        while path:
            path = path[:-1]
            if path in self._tables:
                return self._tables[path]
        return None

    def key(self, path: Path, key: str, value: str | None = None) -> int | None:
        """The line of `key` in table `path`; with `value`, the line inside a multi-line value
        where that string is written. Falls back to the table's header."""
        span = self._keys.get((path, key))
        if span is None:
            return self.table(path)
        if value is not None:
            for n in range(span[0], span[1] + 1):
                if f'"{value}"' in self._lines[n - 1] or f"'{value}'" in self._lines[n - 1]:
                    return n
        return span[0]
