"""A requests session that calls a WSGI app in the test's own thread instead of over a socket: the same
requests, signing and encryption as over HTTP, without starting a server."""
from __future__ import annotations

from urllib.parse import urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers
from werkzeug.test import Client

BASE_URL = "http://nanhu.test"


class WSGIAdapter(BaseAdapter):
    """Sends each prepared request to the WSGI app through werkzeug's test client."""

    def __init__(self, app) -> None:
        super().__init__()
        self.client = Client(app, use_cookies=False)  # the requests session keeps the cookies

    def send(self, request: requests.PreparedRequest, **kwargs: object) -> requests.Response:
        parts = urlsplit(request.url)
        body = request.body.encode() if isinstance(request.body, str) else (request.body or b"")
        answer = self.client.open(parts.path or "/", method=request.method, query_string=parts.query,
                                  headers=list(request.headers.items()), data=body,
                                  base_url=f"{parts.scheme}://{parts.netloc}",
                                  environ_base={"REMOTE_ADDR": "127.0.0.1"})  # as a live server on loopback sees it
        response = requests.Response()
        response.status_code = answer.status_code
        response.reason = answer.status.partition(" ")[2]
        response.headers = CaseInsensitiveDict(answer.headers.items())
        response.encoding = get_encoding_from_headers(response.headers)
        response._content = answer.get_data()
        response.url = request.url
        response.request = request
        response.connection = self
        answer.close()
        return response

    def close(self) -> None:
        pass


def in_process_session(app) -> requests.Session:
    """A requests session whose calls to BASE_URL go to the app in-process."""
    session = requests.Session()
    session.mount(BASE_URL, WSGIAdapter(app))
    return session
