"""Static files and the wire (notebook 04): a browser-like page load.

``Browser`` fetches a page, then the CSS, JS and images it links, over a few parallel
keep-alive connections as a browser does, and remembers what a browser cache would: each
asset's validators (ETag, Last-Modified) and lifetime (Cache-Control max-age, Expires). Its
``visit`` reports the page-load time and the bytes that crossed the wire (headers and bodies as
sent, compressed or not), for a first visit, a repeat visit that revalidates (304s), or a repeat
visit within the assets' lifetimes (no request at all).

A slow link (``link_mbit_s``) is emulated here, by pacing reads: every chunk read on any of
the browser's connections takes its turn on one shared link (``Link``), and is handed over
only when the bytes before it and its own could have crossed it, as on a last mile the
browser's connections share. nginx's ``limit_rate`` cannot do it for a page: it limits each
connection on its own, and lets a whole second's worth of data through at once
(``rate * (elapsed + 1 s)``), so any response smaller than that arrives at loopback speed.
A round trip (``rtt_ms``) is added once per request and once per new connection (TCP's
handshake; TLS would add one or two more); TCP's slow start is not emulated.
"""

from __future__ import annotations

import contextlib
import http.client
import math
import re
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from scalelab.load import wrk
from scalelab.plumbing import http as lab_http  # ``http``: the standard library's
from scalelab.plumbing.checks import check_choice, check_int
from scalelab.plumbing.loopback import check_url
from scalelab.plumbing.cpus import CpuLayout, pinned
from scalelab.plumbing.numbers import figure_text, fmt
from scalelab.results.reference import replayable
from scalelab.results import done, keep
from scalelab.servers.stack import Stack
from scalelab.measurement.limits import one_user_limit
from scalelab.verdicts.rules.static import DJANGO_VIEW, NGINX, WHITENOISE

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


class Link:
    """A last mile of ``mbit_s`` shared by all the connections of one browser, first come,
    first served."""

    def __init__(self, mbit_s: float):
        self.bytes_per_s = mbit_s * 125_000
        self._free_at = 0.0
        self._lock = threading.Lock()

    def carry(self, nbytes: int) -> None:
        """Return once ``nbytes`` more could have crossed the link."""
        with self._lock:
            now = time.perf_counter()
            self._free_at = max(now, self._free_at) + nbytes / self.bytes_per_s
            until = self._free_at
        ahead = until - time.perf_counter()
        if ahead > 0:
            time.sleep(ahead)


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
    """A browser-like client of one site (``base_url``, loopback only).

    It speaks ``http.client`` itself, not the lab's client (:mod:`scalelab.plumbing.http`):
    it reads each body chunk by chunk to pace it on the shared ``Link``, counts the bytes of
    the headers as sent, and waits a round trip at each new connection and request."""

    def __init__(self, base_url: str, connections: int = 6, compress: bool = True,
                 link_mbit_s: float = 0, rtt_ms: float = 0, timeout: float = 60):
        check_url(base_url, "base_url")  # the loopback rule, before anything is sent
        parsed = urllib.parse.urlsplit(base_url)
        if parsed.scheme != "http":
            raise ValueError(f"base_url must be an http:// URL, not {base_url!r}")
        check_int("connections", connections, 1, 32)
        ok = (isinstance(link_mbit_s, (int, float)) and not isinstance(link_mbit_s, bool)
              and (link_mbit_s == 0 or 0.1 <= link_mbit_s <= 10_000))
        if not ok:
            raise ValueError(f"link_mbit_s must be 0 (no limit) or from 0.1 to 10,000 Mbit/s, "
                             f"not {link_mbit_s!r}")
        if not (isinstance(rtt_ms, (int, float)) and not isinstance(rtt_ms, bool)
                and 0 <= rtt_ms <= 2000):
            raise ValueError(f"rtt_ms must be from 0 to 2,000 ms, not {rtt_ms!r}")
        self.link_mbit_s, self.rtt = float(link_mbit_s), rtt_ms / 1000
        self.link = Link(self.link_mbit_s) if link_mbit_s else None
        self.base_url, self.host, self.port = base_url.rstrip("/"), parsed.hostname, parsed.port
        self.connections, self.compress, self.timeout = connections, compress, timeout
        self.cache: dict[str, Cached] = {}
        self._local = threading.local()
        self._open: list[http.client.HTTPConnection] = []

    def close(self) -> None:
        """Close every connection: the next visit opens new ones, as a visit some time later
        would."""
        for conn in self._open:
            conn.close()
        self._open, self._local = [], threading.local()

    def _conn(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = http.client.HTTPConnection(self.host, self.port,
                                                                 timeout=self.timeout)
            self._open.append(conn)
            time.sleep(self.rtt)  # TCP's handshake: one round trip before the first request
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
                conn.request("GET", target, headers=headers)
                time.sleep(self.rtt)  # the request's way there and the response's way back
                resp = conn.getresponse()
                body = self._read(resp)
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                conn.close()
                self._local.conn = None
                if attempt == 2:
                    raise
        head = header_bytes(resp)
        if resp.status == 200:
            self.cache[url] = Cached(resp.getheader("ETag"), resp.getheader("Last-Modified"),
                                     time.monotonic() + lifetime(resp.headers))
        return resp.status, head + len(body), body, resp.headers

    def _read(self, resp) -> bytes:
        """The body, no faster than the link: the headers, then each chunk, take their turn
        on it."""
        if self.link is None:
            return resp.read()
        self.link.carry(header_bytes(resp))
        chunks = []
        while chunk := resp.read(16_384):
            self.link.carry(len(chunk))
            chunks.append(chunk)
        return b"".join(chunks)

    def visit(self, path: str = "/", visit: str = "first") -> PageLoad:
        """Load ``path`` and its assets. ``first``: with an empty cache; ``revalidate``: every
        cached asset is asked for again with its validators; ``fresh``: an asset still within
        its lifetime is not asked for at all (the rest are revalidated)."""
        check_choice("visit", visit, VISITS)
        self.close()
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


def header_bytes(resp) -> int:
    """The bytes of a response's status line and headers as sent (close enough: HTTP/1.1)."""
    return sum(len(k) + len(v) + 4 for k, v in resp.getheaders()) + 17


def _is_gzip(body: bytes) -> bool:
    return body[:2] == b"\x1f\x8b"


# --- the experiments of notebook 04 ------------------------------------------------------
SERVERS = {  # who serves the assets -> the Stack settings that make it so
    DJANGO_VIEW: {"static": "django"},       # django.views.static.serve, as under DEBUG
    WHITENOISE: {"static": "whitenoise"},    # hashed names, precompressed, a year's lifetime
    NGINX: {"static": "none"},               # nginx serves /static/ itself, an hour's lifetime
}
FRONT = {"proxy": "nginx", "gzip": True, "cache": "redis"}  # the same front for every way
PAGES = {"page view": "/", "cached page view": "/c/view/"}  # the home page, uncached / cached
LINKS = (0, 1, 10, 100)  # link speeds in Mbit/s (0: loopback, no limit)


def start_stacks(servers=tuple(SERVERS), questions: int = 10_000, workers: int = 1,
                 layout: CpuLayout | None = None, label: str = "04") -> dict[str, Stack]:
    """One stack per way of serving the assets, all started (nginx in front of each, gzip on,
    Redis for the cached page); if one fails, the others are stopped."""
    if isinstance(servers, str) or not servers or not set(servers) <= set(SERVERS):
        raise ValueError(f"servers must be a non-empty list of {', '.join(SERVERS)}, "
                         f"not {servers!r}")
    tag = {DJANGO_VIEW: "django", WHITENOISE: "whitenoise", NGINX: "nginx"}
    return Stack.start_together({
        name: Stack(questions=questions, workers=workers, layout=layout,
                    label=f"{label}-{tag[name]}", **FRONT, **SERVERS[name])
        for name in servers})


stop = Stack.stop_together


def page_view(stack: Stack, path: str) -> tuple[str, ...]:
    """A page view's requests: the page at ``path`` and each asset it links (through the
    stack's front: the URLs a browser would ask for)."""
    url = stack.base_url + path
    resp = lab_http.get(url, timeout=10)
    if resp.status != 200:
        raise RuntimeError(f"{url} answered {resp.status}; see the stack's logs: {stack.logs()}")
    return (url, *assets_of(resp.body.decode("utf-8", "replace"), url))


@replayable
def who_serves(stacks: dict[str, Stack], connections: int = 16, proxy_connections: int = 128,
               duration: int = 3, warmup: int = 1, repeats: int = 1,
               layout: CpuLayout | None = None,
               on_point: Callable[[dict], None] | None = None) -> pd.DataFrame:
    """Per way of serving (each its own stack), wrk on: the page's assets in turn ("assets"),
    and a whole page view, the page and then its assets ("page view": the uncached home page;
    "cached page view": the home page from Django's per-view cache). Repeats are interleaved
    across the stacks. wrk keeps ``connections`` requests in flight, and ``proxy_connections``
    for nginx's own assets: it answers them in microseconds, and needs far more in flight to
    be kept busy. Adds ``config``: who serves the assets, and ``cpu_ms_per_view``: server
    CPU per request × the requests of one turn (a page view's, or each asset once)."""
    check_int("repeats", repeats, 1, 50)
    turns = {}
    for name, stack in stacks.items():
        views = {kind: page_view(stack, path) for kind, path in PAGES.items()}
        turns[name] = {"assets": views["page view"][1:], **views}
    rows = []
    for repeat in range(repeats):
        for name, stack in stacks.items():
            for variant, urls in turns[name].items():
                conns = proxy_connections if (name, variant) == ("nginx", "assets") \
                    else connections
                rec = wrk.point(stack, urls, conns, duration, warmup if repeat == 0 else 0,
                                layout, variant, repeat)
                rec.update(config=name, cpu_ms_per_view=rec["cpu_ms_per_req_server"] * len(urls))
                keep(rows, rec, on_point)
    return done(rows, on_point)


def _page_times(url: str, seconds: float) -> list[float]:
    """Request ``url`` one after another for ``seconds``; each response time in ms."""
    path = urllib.parse.urlsplit(url).path or "/"
    times, end = [], time.perf_counter() + seconds
    with lab_http.Client(url, timeout=30) as client:  # one keep-alive connection
        while time.perf_counter() < end:
            t0 = time.perf_counter()
            resp = client.request("GET", path, {"Accept-Encoding": "gzip"})
            if resp.status != 200:
                raise RuntimeError(f"{url} answered {resp.status} while timing it")
            times.append((time.perf_counter() - t0) * 1000)
    return times


@replayable
def beside_assets(stacks: dict[str, Stack], seconds: int = 3, connections: int = 4,
                  pause_ms: int = 10, repeats: int = 1, layout: CpuLayout | None = None,
                  on_point: Callable[[dict], None] | None = None) -> pd.DataFrame:
    """What asset traffic and pages do to each other: the uncached home page requested by one client,
    one request after another, for ``seconds``, alone and again while wrk requests the page's
    assets beside it (``connections`` connections, each pausing ``pause_ms`` before each
    request: a paced load, not a flood). The page's time is nginx's own (its access log), so
    a client that shares its CPU with wrk does not stretch it. One row per way of serving and
    traffic: the page's p50 and p90 in ms, and the asset requests/s served beside it with
    their p50 and p90 as wrk saw them (a request waiting for a busy worker waits there)."""
    check_int("seconds", seconds, 1, 600)
    check_int("repeats", repeats, 1, 50)
    rows = []
    for repeat in range(repeats):
        for name, stack in stacks.items():
            page, *assets = page_view(stack, "/")
            lay, proxy = layout or stack.layout, stack.services["proxy"]
            with pinned(lay.generator):
                _page_times(page, 0.3)  # warm: connections, the worker, the database's cache
            for traffic in ("none", "assets"):
                load = wrk.background(tuple(assets), connections, seconds + 1, lay,
                                      "wrk-assets.log", "beside-assets", pause_ms) \
                    if traffic == "assets" else contextlib.nullcontext()
                with load as assets_load:
                    if assets_load is not None:
                        time.sleep(0.5)  # the asset load under way before the page is timed
                    since = proxy.log_position()
                    with pinned(lay.generator):
                        _page_times(page, seconds)
                    time.sleep(0.2)  # nginx writes its log line after the response
                    times = proxy.request_times("/", since)
                    asset = {"asset_req_s": math.nan, "asset_p50_ms": math.nan,
                             "asset_p90_ms": math.nan}
                    if assets_load is not None:
                        report = assets_load.report()
                        asset = {"asset_req_s": report["requests"] / report["wrk_seconds"],
                                 "asset_p50_ms": report["p50_ms"], "asset_p90_ms": report["p90_ms"]}
                if not times:
                    raise RuntimeError(f"nginx logged no request of the page; see "
                                       f"{proxy.access_log}")
                rec = {"config": name, "variant": f"pages beside {traffic}", "traffic": traffic,
                       "repeat": repeat, "page_requests": len(times),
                       "page_p50_ms": float(np.percentile(times, 50)),
                       "page_p90_ms": float(np.percentile(times, 90)),
                       **asset, "limit": one_user_limit(0)}
                keep(rows, rec, on_point)
    return done(rows, on_point)


@replayable
def page_loads(stack: Stack, links=LINKS, rtt_ms: float = 0, repeats: int = 1, path: str = "/",
               on_point: Callable[[dict], None] | None = None) -> pd.DataFrame:
    """One browser's page loads of ``path`` at each link speed (and round trip ``rtt_ms``,
    the same for every link): a first visit without and with
    compression; then, compressed, a repeat visit that revalidates every asset (304s) and one
    within the assets' lifetimes. One row per load (``Browser.visit``'s figures, the link,
    whether compressed, the repeat)."""
    check_int("repeats", repeats, 1, 50)
    if isinstance(links, (str, bytes)) or not links:
        raise ValueError(f"links must be a list of link speeds in Mbit/s, not {links!r}")
    rows = []
    for repeat in range(repeats):
        for link in links:
            for compress, visit in ((False, "first"), (True, "first"), (True, "revalidate"),
                                    (True, "fresh")):
                browser = Browser(stack.base_url, compress=compress, link_mbit_s=link,
                                  rtt_ms=rtt_ms)
                with pinned(stack.layout.generator):  # the browser keeps off the server CPUs
                    if visit != "first":
                        browser.visit(path, "first")  # what the repeat visit finds in its cache
                    load = browser.visit(path, visit).as_row()
                browser.close()
                rec = {"config": f"{link:g} Mbit/s, emulated" if link else "loopback",
                       "variant": f"{visit} visit, {'gzip' if compress else 'plain'}",
                       "link_mbit_s": link, "rtt_ms": rtt_ms, "compress": compress, "repeat": repeat, **load,
                       "limit": one_user_limit(load["failed"])}
                keep(rows, rec, on_point)
    return done(rows, on_point)


@replayable
def backend_time(stack: Stack, seconds: float = 1.0, repeats: int = 1,
                 on_point: Callable[[dict], None] | None = None) -> pd.DataFrame:
    """The backend time caching saves a visitor: the uncached and the cached home page, each
    timed by one client on loopback (no link), one request after another for ``seconds``,
    in turn; the median of each."""
    check_int("repeats", repeats, 1, 50)
    if not (isinstance(seconds, (int, float)) and 0.1 <= seconds <= 600):
        raise ValueError(f"seconds must be from 0.1 to 600, not {seconds!r}")
    rows = []
    for repeat in range(repeats):
        for variant, path in PAGES.items():
            url = stack.base_url + path
            with pinned(stack.layout.generator):  # the client keeps off the server CPUs
                _page_times(url, 0.2)  # warm: the cached page's first request fills the cache
                times = _page_times(url, seconds)
            rec = {"variant": variant.replace(" view", ""), "repeat": repeat,
                   "requests": len(times), "median_ms": float(np.median(times)),
                   "limit": one_user_limit(0)}
            keep(rows, rec, on_point)
    return done(rows, on_point)


def wire_against_backend(loads: pd.DataFrame, backend: pd.DataFrame) -> pd.DataFrame:
    """Per link speed and repeat: what compression saves a first visit (ms), what the assets'
    lifetimes save a repeat visit against revalidating (ms), what the cached page saves in
    the backend (ms), and compression's saving ÷ the backend's (``rules.wire_savings``)."""
    from scalelab.verdicts.rules import wire_savings

    return wire_savings(pd.concat([loads, backend], ignore_index=True))


def crossover_mbit_s(loads: pd.DataFrame, backend: pd.DataFrame, share: float = 1.0) -> float:
    """The link speed up to which compression saves a first visit at least ``share`` × the
    backend time the cached page saves: the bits compression takes off a page view ÷ that
    time (a model of a link that only carries bytes; the measured points check it)."""
    first = loads.groupby("variant")["wire_kb"].mean()
    saved_bits = (first["first visit, plain"] - first["first visit, gzip"]) * 1024 * 8
    back = backend.groupby("variant")["median_ms"].mean()
    backend_s = (back["page"] - back["cached page"]) / 1000
    return saved_bits / (share * backend_s) / 1e6 if backend_s > 0 else math.inf


def asset_takeaway(django_ms: float, nginx_ms: float) -> str:
    """The takeaway on one asset request's server CPU, Django's view against nginx: the two
    costs and their ratio, called large from ten times up, small under two."""
    ratio = django_ms / nginx_ms if nginx_ms > 0 else math.nan
    gap = ("large" if ratio >= 10 else "small" if ratio < 2 else "real but not large"
           ) if ratio == ratio else "not measured"
    return (f"Django's static view cost {fmt(django_ms)} ms of server CPU per asset here, nginx "
            f"{fmt(nginx_ms, 2)} ms: per request the gap is {gap}"
            + (f" ({fmt(ratio, 2)}×)." if ratio == ratio else "."))


def page_view_takeaway(share: float, share_cached: float) -> str:
    """The takeaway on the assets' share of a page view's server CPU (C8's figures, WhiteNoise
    serving them): most of a cached view's (over half) or not, and a small share of an
    uncached one's (under a quarter) or not."""
    cached = (f"the assets were most of a cached page view's work ({figure_text(share_cached, '%')})"
              if share_cached > 0.5 else
              f"the assets were {figure_text(share_cached, '%')} of a cached page view's work, less than half")
    uncached = (f"behind an expensive uncached page they were a small share ({figure_text(share, '%')})"
                if share < 0.25 else
                f"behind an uncached page they were still {figure_text(share, '%')} of it")
    return f"Per page view, the gap matters where the page itself is cheap: {cached}; {uncached}."


def transfer_solution(loads: pd.DataFrame, rtt_ms: float, link: float = 1) -> str:
    """Exercise 1's worked solution: the plain first visit's load time at ``link`` Mbit/s
    predicted from its bytes alone (KB × 8.192 ÷ Mbit/s, in ms) against the measured one
    (``page_loads``' rows; the slowest link measured if ``link`` was not), and the gap in
    round trips of ``rtt_ms``."""
    first = loads[loads.variant == "first visit, plain"]
    if first.empty:
        return "This run loaded no plain first visit: there are no bytes to predict from."
    said = ""
    if link not in set(first.link_mbit_s):
        said = f"This run measured no {link:g} Mbit/s link; at its slowest instead. "
        link = float(first.link_mbit_s.min())
    kb = first.wire_kb.mean()
    predicted = kb * 8.192 / link
    measured = first[first.link_mbit_s == link].page_load_ms.mean()
    gap = measured - predicted
    said += (f"The plain first visit received {fmt(kb, 3)} KB: at {link:g} Mbit/s that is "
             f"{fmt(kb, 3)} × 8.192 ÷ {link:g} = **{fmt(predicted, 3)} ms** of transfer. It took "
             f"{fmt(measured, 3)} ms, ")
    if gap < 0:
        return said + ("less than its bytes alone need: the emulated link let a burst through "
                       "faster than its rate, so the bytes' arithmetic is an upper bound here.")
    return said + (f"{fmt(gap, 3)} ms more: about {fmt(gap / rtt_ms)} round trips of "
                   f"{rtt_ms:g} ms. Opening the page's connection and asking for the page take "
                   "two, then opening each asset's connection and asking for each (in parallel "
                   "over six connections) two more, and the backend's time for the page adds "
                   "to them.")
