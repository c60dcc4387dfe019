"""The lab's own HTTP requests, on one small client over ``http.client``: readiness checks,
the requests of clients while a server fails, pages fetched to be read.

Not the measured load: wrk, Locust and the open load bring their own clients. A
:class:`Client` keeps one keep-alive connection to one server, opened at its first request
and again after one breaks (``keep_alive=False``: a connection of its own for each request,
``Connection: close``); :func:`request` sends one request on a connection of its own. Nothing
is decompressed (``Accept-Encoding: identity``), no redirect is followed, and an error status
is a status, not an exception, unless asked (:meth:`Response.check`). A refused, broken or
timed-out connection raises one of ``FAILURES``.
"""

from __future__ import annotations

import http.client
import json
import urllib.parse
from dataclasses import dataclass

from scalelab.plumbing.loopback import check_url

FAILURES = (OSError, http.client.HTTPException)  # a refused, broken or timed-out connection


class StatusError(RuntimeError):
    """A response with an error status where one was not expected (:meth:`Response.check`)."""

    def __init__(self, what: str, status: int):
        super().__init__(f"{what} answered {status}")
        self.status = status


@dataclass(frozen=True)
class Response:
    status: int
    headers: http.client.HTTPMessage  # names looked up case-insensitively
    body: bytes

    def header(self, name: str, default: str = "") -> str:
        """A header's value (several joined by ", ", as ``http.client`` does), or ``default``."""
        values = self.headers.get_all(name)
        return ", ".join(values) if values else default

    def json(self) -> dict:
        """The body as JSON, or {} when it is empty or not JSON."""
        try:
            return json.loads(self.body) if self.body else {}
        except ValueError:
            return {}

    def check(self, what: str = "the request") -> "Response":
        """This response, or :class:`StatusError` when its status is 400 or above."""
        if self.status >= 400:
            raise StatusError(what, self.status)
        return self


def target_of(url: str) -> str:
    """The path and query of ``url`` (what goes on the request line)."""
    parts = urllib.parse.urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


class Client:
    """Requests to one server (``url``: its host and port; a path in it is ignored)."""

    def __init__(self, url: str, timeout: float = 10.0, keep_alive: bool = True):
        check_url(url, "url")  # the loopback rule, before anything is sent
        parts = urllib.parse.urlsplit(url)
        self.host, self.port = parts.hostname, parts.port
        self.timeout, self.keep_alive = timeout, keep_alive
        self._conn: http.client.HTTPConnection | None = None

    def request(self, method: str = "GET", path: str = "/", headers: dict | None = None,
                body: bytes | None = None, attempts: int = 1) -> Response:
        """One request (a POST without ``body`` sends an empty one). A connection that fails
        is closed, and the request sent again on a new one, ``attempts`` times in all; the
        last failure is raised."""
        if body is None and method == "POST":
            body = b""
        headers = dict(headers or {})
        if not self.keep_alive:
            headers.setdefault("Connection", "close")
        for attempt in range(1, attempts + 1):
            if self._conn is None:
                self._conn = http.client.HTTPConnection(self.host, self.port,
                                                        timeout=self.timeout)
            try:
                self._conn.request(method, path, body=body, headers=headers)
                resp = self._conn.getresponse()
                out = Response(resp.status, resp.headers, resp.read())
            except FAILURES:
                self.close()
                if attempt >= attempts:
                    raise
                continue
            if not self.keep_alive:
                self.close()
            return out
        raise ValueError(f"attempts must be 1 or more, not {attempts!r}")

    def status(self, method: str = "GET", path: str = "/", attempts: int = 1) -> int:
        """The status of one request, or 0 when its connection failed."""
        try:
            return self.request(method, path, attempts=attempts).status
        except FAILURES:
            return 0

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def request(method: str, url: str, headers: dict | None = None, body: bytes | None = None,
            timeout: float = 10.0) -> Response:
    """One request to ``url`` on a connection of its own, closed after it."""
    with Client(url, timeout, keep_alive=False) as client:
        return client.request(method, target_of(url), headers, body)


def get(url: str, headers: dict | None = None, timeout: float = 10.0) -> Response:
    return request("GET", url, headers, timeout=timeout)


def post(url: str, headers: dict | None = None, body: bytes | None = None,
         timeout: float = 10.0) -> Response:
    return request("POST", url, headers, body, timeout)


def http_get(url: str, timeout: float = 2.0) -> tuple[int, dict[str, str], bytes]:
    """A GET as the servers' readiness checks make it (``Host: 127.0.0.1``, a connection of
    its own): the status, the headers and the body; an error status is returned, not raised."""
    resp = get(url, {"Host": "127.0.0.1"}, timeout)
    return resp.status, dict(resp.headers), resp.body
