"""Static files and the wire (notebook 04): a browser-like page load.

``Browser`` fetches a page, then the CSS, JS and images it links, over a few parallel
keep-alive connections as a browser does, and remembers what a browser cache would: each
asset's validators (ETag, Last-Modified) and lifetime (Cache-Control max-age, Expires). Its
``visit`` reports the page-load time and the bytes that crossed the wire (headers and bodies as
sent, compressed or not), for a first visit, a repeat visit that revalidates (304s), or a repeat
visit within the assets' lifetimes (no request at all).

A slow link (``link_mbit_s``) is emulated here, by pacing each connection's reads: bytes arrive
no faster than the link carries them, per connection, as on a last mile shared by a browser's
few connections. nginx's ``limit_rate`` cannot do it for a page: it lets a whole second's worth
of data through at once (``rate * (elapsed + 1 s)``), so any response smaller than that arrives
at loopback speed. Latency (round trips) is not emulated.
"""

from __future__ import annotations

import http.client
import re
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from ..checks import check_choice, check_int

VISITS = ("first", "revalidate", "fresh")  # empty cache; validators only; within lifetimes
ASSET_RE = re.compile(r"""<(?:link[^>]+href|script[^>]+src|img[^>]+src)=["']([^"']+)["']""",
                      re.I)


def assets_of(html: str, page_url: str) -> list[str]:
    """The URLs of the CSS, JS and images a page links, in order, each once."""
    seen: dict[str, None] = {}
    for ref in ASSET_RE.findall(html):
        seen.setdefault(urllib.parse.urljoin(page_url, ref), None)
    return list(seen)


def lifetime(headers) -> float:
    """Seconds a response may be reused without asking (max-age, else Expires - Date)."""
    cc = headers.get("Cache-Control", "")
    if "no-store" in cc or "no-cache" in cc:
        return 0.0
    m = re.search(r"max-age=(\d+)", cc)
    if m:
        return float(m.group(1))
    if headers.get("Expires") and headers.get("Date"):
        from email.utils import parsedate_to_datetime

        try:
            return max(0.0, (parsedate_to_datetime(headers["Expires"])
                             - parsedate_to_datetime(headers["Date"])).total_seconds())
        except (TypeError, ValueError):
            return 0.0
    return 0.0


@dataclass
class Cached:
    etag: str | None
    last_modified: str | None
    fresh_until: float


@dataclass
class PageLoad:
    visit: str
    seconds: float
    requests: int
    wire_bytes: int
    not_modified: int
    from_cache: int
    statuses: dict = field(default_factory=dict)

    def as_row(self) -> dict:
        return {"visit": self.visit, "page_load_ms": self.seconds * 1000,
                "requests": self.requests, "wire_kb": self.wire_bytes / 1024,
                "not_modified": self.not_modified, "from_cache": self.from_cache,
                "failed": sum(n for s, n in self.statuses.items() if s >= 400)}


class Browser:
    """A browser-like client of one site (``base_url``, loopback only)."""

    def __init__(self, base_url: str, connections: int = 6, compress: bool = True,
                 link_mbit_s: float = 0, timeout: float = 60):
        parsed = urllib.parse.urlsplit(base_url)
        if parsed.scheme != "http" or parsed.hostname not in ("127.0.0.1", "localhost"):
            raise ValueError(f"base_url must be an http:// URL on 127.0.0.1, not {base_url!r}")
        check_int("connections", connections, 1, 32)
        ok = (isinstance(link_mbit_s, (int, float)) and not isinstance(link_mbit_s, bool)
              and (link_mbit_s == 0 or 0.1 <= link_mbit_s <= 10_000))
        if not ok:
            raise ValueError(f"link_mbit_s must be 0 (no limit) or from 0.1 to 10,000 Mbit/s, "
                             f"not {link_mbit_s!r}")
        self.link_mbit_s = float(link_mbit_s)
        self.base_url, self.host, self.port = base_url.rstrip("/"), parsed.hostname, parsed.port
        self.connections, self.compress, self.timeout = connections, compress, timeout
        self.cache: dict[str, Cached] = {}
        self._local = threading.local()

    def _conn(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = http.client.HTTPConnection(self.host, self.port,
                                                                 timeout=self.timeout)
        return conn

    def _get(self, url: str, revalidate: bool) -> tuple[int, int, bytes, object]:
        path = urllib.parse.urlsplit(url)
        target = path.path + (f"?{path.query}" if path.query else "")
        headers = {"Accept-Encoding": "gzip" if self.compress else "identity"}
        entry = self.cache.get(url)
        if revalidate and entry:
            if entry.etag:
                headers["If-None-Match"] = entry.etag
            if entry.last_modified:
                headers["If-Modified-Since"] = entry.last_modified
        for attempt in (1, 2):  # a keep-alive connection the server closed: reconnect once
            conn = self._conn()
            try:
                t0 = time.perf_counter()
                conn.request("GET", target, headers=headers)
                resp = conn.getresponse()
                body = self._read(resp, t0)
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                conn.close()
                self._local.conn = None
                if attempt == 2:
                    raise
        head = sum(len(k) + len(v) + 4 for k, v in resp.getheaders()) + 17
        if resp.status == 200:
            self.cache[url] = Cached(resp.getheader("ETag"), resp.getheader("Last-Modified"),
                                     time.monotonic() + lifetime(resp.headers))
        return resp.status, head + len(body), body, resp.headers

    def _read(self, resp, t0: float) -> bytes:
        """The body, no faster than the link: after each chunk, wait until the bytes so far
        (headers included) could have crossed it."""
        if not self.link_mbit_s:
            return resp.read()
        rate = self.link_mbit_s * 125_000  # bytes per second
        got = sum(len(k) + len(v) + 4 for k, v in resp.getheaders()) + 17
        chunks = []
        while True:
            chunk = resp.read(16_384)
            got += len(chunk)
            ahead = t0 + got / rate - time.perf_counter()
            if ahead > 0:
                time.sleep(ahead)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)

    def visit(self, path: str = "/", visit: str = "first") -> PageLoad:
        """Load ``path`` and its assets. ``first``: with an empty cache; ``revalidate``: every
        cached asset is asked for again with its validators; ``fresh``: an asset still within
        its lifetime is not asked for at all (the rest are revalidated)."""
        check_choice("visit", visit, VISITS)
        if visit == "first":
            self.cache.clear()
        t0 = time.perf_counter()
        status, size, body, _ = self._get(self.base_url + path, revalidate=False)
        statuses = {status: 1}
        requests, wire, not_modified, from_cache = 1, size, 0, 0
        html = body
        if status == 200 and _is_gzip(body):
            import gzip

            html = gzip.decompress(body)
        urls = assets_of(html.decode("utf-8", "replace"), self.base_url + path)
        now = time.monotonic()
        to_fetch = []
        for url in urls:
            entry = self.cache.get(url)
            if visit == "fresh" and entry and entry.fresh_until > now:
                from_cache += 1
            else:
                to_fetch.append(url)
        with ThreadPoolExecutor(max_workers=self.connections) as pool:
            for status, size, _, _ in pool.map(
                    lambda u: self._get(u, revalidate=visit != "first"), to_fetch):
                statuses[status] = statuses.get(status, 0) + 1
                requests += 1
                wire += size
                not_modified += status == 304
        return PageLoad(visit, time.perf_counter() - t0, requests, wire, not_modified,
                        from_cache, statuses)


def _is_gzip(body: bytes) -> bool:
    return body[:2] == b"\x1f\x8b"
