"""wechatpy's client pointed at the configured API root, with its access token in the shared store."""
from __future__ import annotations

import json
import time

import requests
import requests.adapters
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException
from wechatpy.session import SessionStorage

from storage.kv import KV, keys
from storage.locks import lease


class KVSessionStorage(SessionStorage):
    """wechatpy session storage on nanhu's shared store, so every process uses one access token."""

    def __init__(self, kv: KV):
        self.kv = kv

    def get(self, key, default=None):
        value = self.kv.get(keys.wechatpy(key))
        return default if value is None else json.loads(value)

    def set(self, key, value, ttl=None):
        if value is not None:
            self.kv.set(keys.wechatpy(key), json.dumps(value), ttl)

    def delete(self, key):
        self.kv.delete(keys.wechatpy(key))


class WeChatUnreachable(requests.ConnectionError):
    """The WeChat API could not be reached in time (connection refused, timeout, HTTP error)."""

    def __init__(self, message: str, cause: str = ""):
        super().__init__(message)
        self.cause = cause  # e.g. "ReadTimeout", for deciding whether to retry


TOKEN_ERRORS = {40001, 40014, 42001}  # invalid, malformed or expired access token


class NanhuWeChatClient(WeChatClient):
    """WeChatClient whose every call, token fetch included, goes to `api_base_url` with a timeout.

    wechatpy's own auto-retry refetches the token on every 40001/42001 without limit; here a token
    error refetches once, under a lock in the shared store, and only if the stored token is still
    the one that failed: however many workers see the error at once, WeChat is asked once.
    """

    # How long a process reuses the token it read from the shared store without asking again. Safe:
    # a token another process replaced stays valid at WeChat for 5 more minutes, and a token error
    # always goes back to the store.
    TOKEN_REUSE = 30.0

    def __init__(self, appid: str, secret: str, api_base_url: str, session: "KVSessionStorage", timeout: float):
        super().__init__(appid, secret, session=session, timeout=timeout, auto_retry=False)
        self.API_BASE_URL = api_base_url if api_base_url.endswith("/") else api_base_url + "/"
        self._reuse: tuple[str, float] | None = None
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=32)  # delivery jobs send in parallel
        self._http.mount("http://", adapter)
        self._http.mount("https://", adapter)

    def _replace_token(self, failed: str | None) -> str:
        """The token to use now: fetched under the lock unless another process already replaced `failed`."""
        with lease(self.session.kv, keys.token_lease_name(self.appid), ttl=self.timeout + 5, wait=self.timeout + 2):
            current = self.session.get(self.access_token_key)
            if not current or current == failed:
                self.fetch_access_token()
                current = self.session.get(self.access_token_key)
            self._reuse = (current, time.monotonic() + self.TOKEN_REUSE)
            return current

    def _request(self, method, url_or_endpoint, **kwargs):
        try:
            return self._request_with_token(method, url_or_endpoint, **kwargs)
        except requests.RequestException as exc:
            if isinstance(exc, WeChatUnreachable):
                raise
            # requests' messages repeat the URL, and API URLs carry the access token
            raise WeChatUnreachable(f"{url_or_endpoint}: {type(exc).__name__}", cause=type(exc).__name__) from None

    def _request_with_token(self, method, url_or_endpoint, **kwargs):
        params = dict(kwargs.pop("params", None) or {})
        if "access_token" in params:  # an explicit token (or the token call itself): no retry logic
            return super()._request(method, url_or_endpoint, params=params, **kwargs)
        token = self.access_token
        try:
            return super()._request(method, url_or_endpoint, params={**params, "access_token": token}, **kwargs)
        except WeChatClientException as exc:
            if exc.errcode not in TOKEN_ERRORS:
                raise
        fresh = self._replace_token(failed=token)
        return super()._request(method, url_or_endpoint, params={**params, "access_token": fresh}, **kwargs)

    def fetch_access_token(self):
        try:
            res = self._http.get(self.API_BASE_URL + "token", timeout=self.timeout,
                                 params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret})
            res.raise_for_status()
            result = res.json()
        except (requests.RequestException, ValueError) as exc:
            # requests' messages repeat the URL, and this URL carries the app secret
            raise WeChatUnreachable(f"token: {type(exc).__name__}", cause=type(exc).__name__) from None
        if result.get("errcode"):
            raise WeChatClientException(result["errcode"], result.get("errmsg"), client=self,
                                        request=res.request, response=res)
        expires_in = int(result.get("expires_in", 7200))
        # keep the token in the shared store with its expiry, so the token is valid wherever it is read
        self.session.set(self.access_token_key, result["access_token"], expires_in - 60)
        self.expires_at = int(time.time()) + expires_in
        return result

    @property
    def access_token(self):
        if self._reuse and time.monotonic() < self._reuse[1]:
            return self._reuse[0]
        token = self.session.get(self.access_token_key)
        if not token:
            return self._replace_token(failed=None)
        self._reuse = (token, time.monotonic() + self.TOKEN_REUSE)
        return token
