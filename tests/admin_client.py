"""A staff member's browser session over real HTTP (requests), for the admin web tests."""
from __future__ import annotations

import re

import requests

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class AdminClient:
    def __init__(self, base_url: str):
        self.base = base_url
        self.http = requests.Session()
        self.csrf = ""

    def get(self, path: str, **kwargs) -> requests.Response:
        resp = self.http.get(self.base + path, timeout=10, **kwargs)
        if (m := CSRF.search(resp.text)) is not None:
            self.csrf = m.group(1)
        return resp

    def post(self, path: str, data: dict | None = None, **kwargs) -> requests.Response:
        if not self.csrf:
            self.get("/admin/login")
        resp = self.http.post(self.base + path, data={"csrf": self.csrf, **(data or {})}, timeout=10, **kwargs)
        if (m := CSRF.search(resp.text)) is not None:
            self.csrf = m.group(1)
        return resp

    def login(self, username: str = "admin", password: str = "nanhu-demo-2026") -> requests.Response:
        self.get("/admin/login")
        return self.post("/admin/login", {"username": username, "password": password})
