"""The public pages' two blueprints, and a page rendered in the public layout
(templates/public/layout.html). Pages reach the runtime as everything does: `bot.runtime.current()`."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, render_template

# Two blueprints for their endpoint names ("pages.…", "public.…"); one templates folder.
pages_bp = Blueprint("pages", __name__, template_folder="templates")     # check-in codes, identity cards
public_bp = Blueprint("public", __name__, template_folder="templates")   # the projects' disclosure pages


def page(template: str, status: int = 200, *, no_store: bool = False, **context: Any) -> Response:
    """templates/public/`template` as an HTML response; `no_store` keeps it out of every cache."""
    html = render_template(f"public/{template}", **context)
    return Response(html, status=status, mimetype="text/html",
                    headers={"Cache-Control": "no-store"} if no_store else None)
