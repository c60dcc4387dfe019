"""Clients that keep sending requests while a server fails: threads, each a client sending
one request after another on its own connection, while a failure is made to happen on a
schedule; what each second's requests got, and what the database counted meanwhile.

An app replica killed and started again behind nginx (notebook 05), a read replica stopped
(06), PostgreSQL killed and recovered (07): what differs is given. ``send``: the request a
client sends next; ``failure``: what fails and when, noting the times it wants in the
outcomes; ``ok``: which status counts as answered; :meth:`Outcomes.per_second`: the columns
each second's counts go to. The clients run pinned to the generator CPUs and use the lab's
own HTTP client (:mod:`scalelab.plumbing.http`).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Callable, Sequence

from scalelab.plumbing import http
from scalelab.plumbing.cpus import pinned
from scalelab.plumbing.loopback import check_url

# (the client's number, its request's number from 1) -> (method, path)
Send = Callable[[int, int], tuple[str, str]]


def answered(status: int) -> bool:
    """A status the request counts as answered by: 2xx or 3xx (0: a failed connection)."""
    return 200 <= status < 400


class Outcomes:
    """The requests that ended in each second since the start, by method and whether they
    were answered (``counts``: (second, method, ok) -> requests); the times and figures the
    failure noted (``events``); what the run's ``counter`` counted (``counted``). The failure
    uses it while the clients run: :meth:`until`, :meth:`note`, :meth:`total`."""

    def __init__(self) -> None:
        self.counts: Counter = Counter()
        self.events: dict[str, float] = {}
        self.counted: int | None = None
        self.last_failure_s = float("nan")  # when the last request not answered ended
        self._lock = threading.Lock()
        self.t0 = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def add(self, method: str, ok: bool) -> None:
        now = self.elapsed()
        with self._lock:
            self.counts[(int(now), method, ok)] += 1
            if not ok:
                self.last_failure_s = now

    def until(self, at_s: float, note: str | None = None) -> None:
        """Wait until ``at_s`` seconds from the start; then note the time as ``note``."""
        time.sleep(max(0.0, at_s - self.elapsed()))
        if note:
            self.note(note)

    def note(self, name: str, value: float | None = None) -> None:
        """Note ``value`` (by default the seconds since the start) as ``events[name]``."""
        self.events[name] = self.elapsed() if value is None else value

    def total(self, method: str | None = None, ok: bool | None = None) -> int:
        """The requests so far of ``method`` (any) that were answered or not (either)."""
        with self._lock:
            return sum(n for (_, m, good), n in self.counts.items()
                       if method in (None, m) and ok in (None, good))

    def per_second(self, seconds: int, columns: dict[tuple[str, bool], str]) -> list[dict]:
        """For each second from 0 to ``seconds`` - 1: ``second``, and per (method, ok) of
        ``columns`` its column: the requests of that kind that ended in that second."""
        return [{"second": s, **{col: self.counts.get((s, m, ok), 0)
                                 for (m, ok), col in columns.items()}}
                for s in range(seconds)]


def run(url: str, send: Send, failure: Callable[[Outcomes], None], *, clients: int,
        seconds: float, cpus: Sequence[int], counter: Callable[[], int] | None = None,
        ok: Callable[[int], bool] = answered, timeout: float = 10.0, keep_alive: bool = True,
        attempts: int = 1, pause_after_failure: float = 0.0) -> Outcomes:
    """``clients`` threads send requests to the server at ``url`` (``send``) for
    ``seconds``, each as soon as its last was answered, while ``failure`` runs (from the
    start; it waits for its moments with :meth:`Outcomes.until`). Each client keeps one
    connection (``keep_alive``; else one per request), sends a request again on a new one
    when it breaks (``attempts`` in all), and after a request not ``ok`` waits
    ``pause_after_failure`` s, as a client would. ``counter``: what the database holds,
    read before and after the run; the difference is ``counted``."""
    check_url(url, "url")  # the loopback rule, before any client starts
    before = counter() if counter is not None else None
    out = Outcomes()
    halt = threading.Event()

    def client(k: int) -> None:
        n = 0
        with http.Client(url, timeout, keep_alive) as conn, pinned(cpus):
            while not halt.is_set():
                n += 1
                method, path = send(k, n)
                try:
                    good = ok(conn.status(method, path, attempts))
                except Exception:  # any other failure of a request is a failed request
                    good = False
                out.add(method, good)
                if not good and pause_after_failure:
                    halt.wait(pause_after_failure)

    threads = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(clients)]
    for t in threads:
        t.start()
    try:
        failure(out)
        out.until(seconds)
    finally:
        halt.set()
        for t in threads:
            t.join(timeout=15)
    if counter is not None:
        out.counted = counter() - before
    return out
