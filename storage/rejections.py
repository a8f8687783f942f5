"""Refusals with a code: services say *what* is wrong (a code, its parameters and the field it is
about); each audience's catalogue in `wording` says it in its words. `str()` of a refusal is the
operators' (CLI and log) text, so nothing ever has to parse it back."""
from __future__ import annotations

from typing import Any, ClassVar

from wording.operators import OPERATORS


class Rejected(ValueError):
    """A service refused an action: `code` (e.g. "project.end_before_start"), `params`, `field`."""

    domain: ClassVar[str] = ""

    def __init__(self, code: str, *, field: str | None = None, **params: Any):
        self.code = f"{self.domain}.{code}" if self.domain else code
        self.field = field
        self.params = params
        super().__init__(OPERATORS.say(self.code, **params))

    def __reduce__(self):  # copy and pickle rebuild it from its code, not from its text
        code = self.code.removeprefix(f"{self.domain}.") if self.domain else self.code
        return _rejected, (type(self), code, self.field, self.params)


class Problem(str):
    """One problem found in a file (a line of a roster CSV): reads as the operators' text, and
    carries its code, parameters and line for other audiences."""

    code: str
    params: dict[str, Any]
    line: int

    def __new__(cls, code: str, line: int, **params: Any) -> "Problem":
        self = super().__new__(cls, OPERATORS.say(code, line=line, **params))
        self.code, self.line, self.params = code, line, {"line": line, **params}
        return self

    def __reduce__(self):
        return _problem, (self.code, self.params)


def _rejected(cls: type[Rejected], code: str, field: str | None, params: dict[str, Any]) -> Rejected:
    return cls(code, field=field, **params)


def _problem(code: str, params: dict[str, Any]) -> Problem:
    return Problem(code, **params)
