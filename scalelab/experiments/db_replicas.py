"""Database read replicas (notebook 06): a stack with a streaming replica beside one without,
reads and writes on both, replication lag under writes, read-your-writes, and a replica that
stops under load.

On one machine the replica shares the server CPUs with the primary, so it cannot add capacity
here; what it would add on its own machine comes from where each request's database CPU went
(``db`` for the primary, ``replica`` for the standby).
"""

from __future__ import annotations

import http.client
import json
import threading
import time
import urllib.parse
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from scalelab.load import wrk
from scalelab.plumbing.checks import check_int
from scalelab.plumbing.cpus import CpuLayout, pinned
from scalelab.results.reference import replayable
from scalelab.results import done, keep
from scalelab.plumbing.runs import Run
from scalelab.plumbing.processes import stop_group
from scalelab.servers.stack import Stack
from scalelab.measurement.limits import one_user_limit

STACKS = {"primary only": {}, "with a replica": {"read_replica": True}}
READ_YOUR_WRITES_S = 5  # the fix: a writer's reads go to the primary this long


def start_stacks(questions: int = 10_000, workers: int = 2, layout: CpuLayout | None = None,
                 label: str = "06") -> dict[str, Stack]:
    """The same app on two stacks, one reading from a streaming replica (with the
    read-your-writes cookie honoured for READ_YOUR_WRITES_S seconds); both started, or none."""
    fix = {"read_your_writes_s": READ_YOUR_WRITES_S}
    return Stack.start_together({
        name: Stack(questions=questions, workers=workers, layout=layout,
                    label=f"{label}-{name.split()[0]}", **extra, **(fix if extra else {}))
        for name, extra in STACKS.items()})


stop = Stack.stop_together


def _reads(stack: Stack, n: int = 4) -> tuple[str, ...]:
    """A read-heavy turn: the home page, popular questions and a tag page."""
    pop = stack.popularity()
    app = stack.app_url
    return (app + "/", *(f"{app}/q/{q}/" for q in pop["question_ids"][:n]),
            f"{app}/tags/{pop['tags'][0]}/")


def _writes(stack: Stack, n: int = 8) -> tuple[str, ...]:
    """A turn of votes on ``n`` questions (each a write to Vote and an update of a score)."""
    return tuple(f"{stack.app_url}/api/questions/{q}/vote/"
                 for q in stack.popularity()["question_ids"][:n])


@replayable
def reads_and_writes(stacks: dict[str, Stack], connections: int = 8, duration: int = 3,
                     warmup: int = 1, repeats: int = 1, layout: CpuLayout | None = None,
                     on_point: Callable[[dict], None] | None = None) -> pd.DataFrame:
    """wrk on a read-heavy turn of pages (GET) and on a turn of votes (POST), on each stack,
    repeats interleaved across the stacks. Adds ``config`` (the stack) and ``kind``."""
    check_int("repeats", repeats, 1, 50)
    rows = []
    for repeat in range(repeats):
        for name, stack in stacks.items():
            for kind, urls, method in (("reads", _reads(stack), "GET"),
                                       ("writes", _writes(stack), "POST")):
                rec = wrk.point(stack, urls, connections, duration,
                                warmup if repeat == 0 else 0, layout, kind, repeat,
                                method=method)
                rec.update(config=name, kind=kind)
                keep(rows, rec, on_point)
    return done(rows, on_point)


@replayable
def lag_under_writes(stack: Stack, connections: Sequence[int] = (1, 4, 16), seconds: int = 3,
                     sample_ms: int = 50, layout: CpuLayout | None = None,
                     on_point: Callable[[dict], None] | None = None) -> pd.DataFrame:
    """For each number of wrk connections voting as fast as they are answered: the replica's
    lag sampled every ``sample_ms`` while they run. One row per sample: the connections, the
    write rate wrk reported, lag in bytes and in seconds."""
    check_int("seconds", seconds, 1, 600)
    check_int("sample_ms", sample_ms, 10, 10_000)
    replica, lay = stack.replica, layout or stack.layout
    rows = []
    for conns in connections:
        check_int("connections", conns, 1, 1000)
        run = Run.create("lag")
        samples = []
        try:
            proc = wrk.start(run, _writes(stack), conns, seconds, lay, "wrk-writes.log",
                             method="POST")
            try:
                end = time.monotonic() + seconds
                with pinned(lay.generator):
                    while time.monotonic() < end:
                        samples.append(replica.lag())
                        time.sleep(sample_ms / 1000)
                proc.wait(timeout=seconds + 30)
            except BaseException:
                stop_group(proc)
                raise
            report = wrk.parse((run.dir / "logs" / "wrk-writes.log").read_text())
        finally:
            run.close()
        rate = report["requests"] / report["wrk_seconds"]
        for i, sample in enumerate(samples):
            rec = {"variant": f"{conns} writers", "connections": conns, "sample": i,
                   "writes_s": rate, "failures": report["failures"], **sample,
                   "limit": one_user_limit(report["failures"] > 0.01 * report["requests"])}
            keep(rows, rec, on_point)
    return done(rows, on_point)


def _call(conn_box: dict, host: str, port: int, method: str, path: str,
          cookie: str = "") -> tuple[int, dict, dict]:
    conn = conn_box.get("conn") or http.client.HTTPConnection(host, port, timeout=10)
    conn_box["conn"] = conn
    conn.request(method, path, body=b"" if method == "POST" else None,
                 headers={"Cookie": cookie} if cookie else {})
    resp = conn.getresponse()
    body = resp.read()
    try:
        data = json.loads(body) if body else {}
    except ValueError:
        data = {}
    return resp.status, dict(resp.getheaders()), data


@replayable
def read_your_writes(stack: Stack, trials: int = 50, background: int = 4,
                     delays_ms: Sequence[int] = (0, 100), layout: CpuLayout | None = None,
                     on_point: Callable[[dict], None] | None = None) -> pd.DataFrame:
    """A visitor votes on a question and at once reads it back, ``trials`` times, while
    ``background`` wrk connections vote on other questions. ``without the fix``: the read goes
    where the router sends any read, the replica; ``with the fix``: the visitor keeps the
    cookie the vote set, and reads from the primary for a few seconds. Each way with the
    replica as it is, and held back by each of ``delays_ms`` (``recovery_min_apply_delay``: a
    replica that lags as one far away or under heavy load does). One row per delay and way:
    trials, reads that missed the visitor's own vote, and the queries each database answered."""
    check_int("trials", trials, 1, 10_000)
    lay = layout or stack.layout
    parts = urllib.parse.urlsplit(stack.app_url)
    qids = stack.popularity()["question_ids"]
    mine = qids[-trials:] if len(qids) > trials + 8 else qids[:trials]
    replica = stack.replica
    rows = []
    run = Run.create("read-your-writes")
    try:
        proc = wrk.start(run, _writes(stack), background, 600, lay, "wrk-background.log",
                         method="POST") if background else None
        try:
            time.sleep(0.5 if background else 0)
            for delay in delays_ms:
                replica.set_apply_delay(delay)
                for way in ("without the fix", "with the fix"):
                    rec = _read_back(parts, mine, way == "with the fix", lay)
                    rec.update(variant=f"{way}, +{delay} ms", way=way, added_delay_ms=delay,
                               background_writers=background, limit=one_user_limit(0))
                    keep(rows, rec, on_point)
        finally:
            if proc is not None:
                stop_group(proc)
            if replica.running:
                replica.set_apply_delay(0)
    finally:
        run.close()
    return done(rows, on_point)


def _read_back(parts, qids: Sequence[int], keep_cookie: bool, lay: CpuLayout) -> dict:
    """Vote on each question and read it back at once; count the reads that missed the vote."""
    box: dict = {}
    missed, by_alias = 0, {"default": 0, "replica": 0}
    with pinned(lay.generator):
        for qid in qids:
            _, headers, voted = _call(box, parts.hostname, parts.port, "POST",
                                      f"/api/questions/{qid}/vote/")
            cookie = headers.get("Set-Cookie", "").split(";")[0] if keep_cookie else ""
            _, headers, read = _call(box, parts.hostname, parts.port, "GET",
                                     f"/api/questions/{qid}/", cookie)
            missed += read.get("score") != voted.get("score")
            for item in headers.get("X-DB-Queries-By-Alias", "").split(","):
                alias, _, n = item.partition("=")
                if alias in by_alias:
                    by_alias[alias] += int(n or 0)
    if box.get("conn"):
        box["conn"].close()
    return {"trials": len(qids), "missed": missed, "missed_share": missed / len(qids),
            "read_queries_primary": by_alias["default"],
            "read_queries_replica": by_alias["replica"]}


@replayable
def replica_stops(stack: Stack, seconds: int = 4, stop_at: float = 1.5, clients: int = 4,
                  on_point: Callable[[dict], None] | None = None) -> pd.DataFrame:
    """Clients read a question (and every tenth request vote on it) for ``seconds``; the
    replica is stopped at ``stop_at`` s. One row per second: reads and writes answered and
    failed, and the votes the primary counted against those answered. The replica stays
    stopped: run this last on its stack."""
    check_int("seconds", seconds, 2, 600)
    check_int("clients", clients, 1, 64)
    if not 0 < stop_at < seconds:
        raise ValueError(f"stop_at must be between 0 and seconds={seconds}, not {stop_at!r}")
    parts = urllib.parse.urlsplit(stack.app_url)
    qid = stack.popularity()["question_ids"][0]
    sql = "SELECT score FROM qa_question WHERE id = %s"
    before = stack.db.query(sql, (qid,), dbname=stack.dataset.db_name)[0][0]
    counts: dict = {}
    lock, halt = threading.Lock(), threading.Event()
    t0 = time.monotonic()

    def client() -> None:
        box: dict = {}
        n = 0
        with pinned(stack.layout.generator):
            while not halt.is_set():
                n += 1
                method, path = (("POST", f"/api/questions/{qid}/vote/") if n % 10 == 0
                                else ("GET", f"/api/questions/{qid}/"))
                try:
                    status = _call(box, parts.hostname, parts.port, method, path)[0]
                except (OSError, http.client.HTTPException):
                    box["conn"] = None
                    status = 0
                key = (int(time.monotonic() - t0), method, 200 <= status < 400)
                with lock:
                    counts[key] = counts.get(key, 0) + 1

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    try:
        time.sleep(max(0.0, stop_at - (time.monotonic() - t0)))
        stopped_at = time.monotonic() - t0
        stack.replica.stop()
        time.sleep(max(0.0, seconds - (time.monotonic() - t0)))
    finally:
        halt.set()
        for t in threads:
            t.join(timeout=15)
    counted = stack.db.query(sql, (qid,), dbname=stack.dataset.db_name)[0][0] - before
    answered = sum(n for (s, m, ok), n in counts.items() if m == "POST" and ok)
    rows = []
    for second in range(seconds):
        get = lambda m, ok: counts.get((second, m, ok), 0)  # noqa: E731
        rec = {"variant": "replica stops", "second": second, "reads_ok": get("GET", True),
               "reads_failed": get("GET", False), "writes_ok": get("POST", True),
               "writes_failed": get("POST", False), "stopped_at_s": stopped_at,
               "votes_answered": answered, "votes_counted": counted,
               "limit": one_user_limit(0)}
        keep(rows, rec, on_point)
    return done(rows, on_point)


def project_reads(rows: pd.DataFrame, replicas: Sequence[int] = (0, 1, 2, 4)) -> pd.DataFrame:
    """Read turns per second the database tier could serve, each server on a machine like
    this one's server CPUs: without a replica, 1000 ÷ the database's CPU-ms per read turn;
    with k replicas, k × 1000 ÷ a replica's (the primary kept for the writes). From the
    server-bound read points of each stack (utilisation law)."""
    reads = rows[(rows.kind == "reads") & (rows["limit"] == "server")]
    without = reads[reads.config == "primary only"].cpu_ms_per_req_db.mean()
    replica = reads[reads.config == "with a replica"].cpu_ms_per_req_replica.mean()
    out = []
    for k in replicas:
        check_int("replicas", k, 0, 1000)
        cost = without if k == 0 else replica
        out.append({"replicas": k, "db_reads_s": (max(k, 1) * 1000 / cost) if cost else np.nan})
    df = pd.DataFrame(out)
    df["gain"] = df.db_reads_s / df.db_reads_s.iloc[0]
    return df


def lag_summary(rows: pd.DataFrame) -> pd.DataFrame:
    """Per number of writers: write rate, and lag's median, p90 and max in KB and ms."""
    g = rows.groupby("connections")
    out = pd.DataFrame({
        "writes_s": g.writes_s.first(),
        "lag_kb_p50": g.lag_bytes.median() / 1024,
        "lag_kb_p90": g.lag_bytes.quantile(0.9) / 1024,
        "lag_kb_max": g.lag_bytes.max() / 1024,
        "lag_ms_p50": g.lag_s.median() * 1000,
        "lag_ms_p90": g.lag_s.quantile(0.9) * 1000,
        "lag_ms_max": g.lag_s.max() * 1000,
        "samples": g.size()})
    return out.replace([np.inf, -np.inf], np.nan)
