"""A catalogue: one text per code, filled in with the code's parameters."""
from __future__ import annotations

from typing import Any, Callable, Mapping

Text = str | Callable[..., str]


class Catalogue:
    def __init__(self, audience: str, texts: Mapping[str, Text]):
        self.audience = audience
        self.texts = dict(texts)

    def __contains__(self, code: object) -> bool:
        return code in self.texts

    def say(self, code: str, **params: Any) -> str:
        """The text for `code`; a str template is filled with `str.format`, a callable is called."""
        text = self.texts.get(code)
        if text is None:
            raise KeyError(f"{self.audience} catalogue has no text for {code!r}")
        return text(**params) if callable(text) else text.format(**params)
