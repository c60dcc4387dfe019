"""Database read replicas (notebook 06): a stack with a streaming replica beside one without,
reads and writes on both, replication lag under writes, read-your-writes, a replica that
fails under load (the router falls back to the primary) and comes back, and the scale model:
the primary and 0 to 3 replicas each in a host of its own, at stated shares of writes.

Without hosts the replica shares the server CPUs with the primary, so it cannot add capacity;
what it would add on its own machine is projected from where each request's database CPU went
(``db`` for the primary, ``replica`` for the standby), and measured in the scale model
(:func:`scale_reads`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from scalelab.load import under_failure, wrk
from scalelab.measurement.target import as_target
from scalelab.plumbing import http
from scalelab.plumbing.checks import check_int
from scalelab.plumbing.cpus import CpuLayout, pinned
from scalelab.plumbing.numbers import figure_text, fmt
from scalelab.results.reference import replayable, replayed_without_hosts
from scalelab.results import done, keep
from scalelab.servers.postgres import LAB_CLIENT
from scalelab.servers.stack import Stack
from scalelab.measurement.limits import one_user_limit
from scalelab.verdicts.rules.db_replicas import WITH, WITHOUT, WRITE_SHARES

STACKS = {WITHOUT: {}, WITH: {"read_replica": True}}
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


def _reads(stack: Stack, n: int = 4, pop: dict | None = None) -> tuple[str, ...]:
    """A read-heavy turn: the home page, popular questions and a tag page (``pop``: the
    stack's popularity, if read already)."""
    pop = pop or stack.popularity()
    app = stack.app_url
    return (app + "/", *(f"{app}/q/{q}/" for q in pop["question_ids"][:n]),
            f"{app}/tags/{pop['tags'][0]}/")


def _writes(stack: Stack, n: int = 8, pop: dict | None = None) -> tuple[str, ...]:
    """A turn of votes on ``n`` questions (each a write to Vote and an update of a score)."""
    return tuple(f"{stack.app_url}/api/questions/{q}/vote/"
                 for q in (pop or stack.popularity())["question_ids"][:n])


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
def lag_under_writes(stack: Stack, rates: Sequence[int | None] = (250, 1000, None),
                     clients: int = 8, seconds: int = 3, sample_ms: int = 50,
                     layout: CpuLayout | None = None,
                     on_point: Callable[[dict], None] | None = None) -> pd.DataFrame:
    """For each write rate, ``clients`` pgbench connections voting on the primary at that
    many votes a second in all (None: as fast as it answers), with no app in the way (the
    app's two workers cap the votes at one rate however many writers send them, in the
    reference run 98 to 129 a second, too few to move the lag); meanwhile the replica's lag
    sampled every ``sample_ms`` on connections held open (``lag_probe``). One row per
    sample: the rate asked (``asked_rate``, NaN: as fast as answered), the votes a second
    pgbench reported (``writes_s``), lag in bytes and in seconds."""
    from scalelab.load import pgbench

    check_int("seconds", seconds, 1, 600)
    check_int("sample_ms", sample_ms, 10, 10_000)
    check_int("clients", clients, 1, 1000)
    replica, lay = stack.replica, layout or stack.layout
    rows = []
    for rate in rates:
        samples = []
        with replica.lag_probe() as sample, \
                pgbench.background(stack, clients, seconds, lay, rate=rate) as votes:
            end = time.monotonic() + seconds
            with pinned(lay.generator):
                while time.monotonic() < end:
                    samples.append(sample())
                    time.sleep(sample_ms / 1000)
            report = votes()
        for i, one in enumerate(samples):
            rec = {"variant": f"{rate:,} votes/s asked" if rate else "as fast as answered",
                   "asked_rate": rate if rate else np.nan, "connections": clients,
                   "sample": i, "generator": "pgbench", "writes_s": report["votes_s"],
                   "failures": report["failures"], **one,
                   "limit": one_user_limit(report["failures"] > 0.01 * report["requests"])}
            keep(rows, rec, on_point)
    return done(rows, on_point)


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
    qids = stack.popularity()["question_ids"]
    mine = qids[-trials:] if len(qids) > trials + 8 else qids[:trials]
    replica = stack.replica
    rows = []
    writers = wrk.background(_writes(stack), background, 600, lay, "wrk-background.log",
                             "read-your-writes", method="POST") if background \
        else contextlib.nullcontext()
    try:
        with writers:  # stopped when the block ends
            time.sleep(0.5 if background else 0)
            for delay in delays_ms:
                replica.set_apply_delay(delay)
                for way in ("without the fix", "with the fix"):
                    rec = _read_back(stack.app_url, mine, way == "with the fix", lay)
                    rec.update(variant=f"{way}, +{delay} ms", way=way, added_delay_ms=delay,
                               background_writers=background, limit=one_user_limit(0))
                    keep(rows, rec, on_point)
    finally:
        if replica.running:
            replica.set_apply_delay(0)
    return done(rows, on_point)


def _read_back(url: str, qids: Sequence[int], keep_cookie: bool, lay: CpuLayout) -> dict:
    """Vote on each question and read it back at once, on one keep-alive connection to the
    app at ``url``; count the reads that missed the vote."""
    missed, by_alias = 0, {"default": 0, "replica": 0}
    with http.Client(url, timeout=10) as client, pinned(lay.generator):
        for qid in qids:
            voted = client.request("POST", f"/api/questions/{qid}/vote/")
            cookie = voted.header("Set-Cookie").split(";")[0] if keep_cookie else ""
            read = client.request("GET", f"/api/questions/{qid}/",
                                  {"Cookie": cookie} if cookie else {})
            missed += read.json().get("score") != voted.json().get("score")
            for item in read.header("X-DB-Queries-By-Alias").split(","):
                alias, _, n = item.partition("=")
                if alias in by_alias:
                    by_alias[alias] += int(n or 0)
    return {"trials": len(qids), "missed": missed, "missed_share": missed / len(qids),
            "read_queries_primary": by_alias["default"],
            "read_queries_replica": by_alias["replica"]}


STOP_COLUMNS = {("GET", True): "reads_ok", ("GET", False): "reads_failed",
                ("POST", True): "writes_ok", ("POST", False): "writes_failed"}


@replayable
def replica_fails(stack: Stack, seconds: int = 8, clients: int = 4,
                  on_point: Callable[[dict], None] | None = None) -> pd.DataFrame:
    """Clients read a question (and every tenth request vote on it) for ``seconds``; a quarter
    of the way in, the replica is killed (SIGKILL, as a crash would), and half way it is
    started again on its own copy. One row per second: reads and writes answered and failed;
    and the moments, in seconds from the start: ``failed_at_s`` (killed), ``restarted_at_s``,
    ``ready_at_s`` (streaming again), ``reads_back_at_s`` (the app connected to it again: its
    reads are back on it; NaN if not before the end) and ``last_failure_s`` (the last request
    that failed; NaN if none)."""
    check_int("seconds", seconds, 4, 600)
    check_int("clients", clients, 1, 64)
    qid = stack.popularity()["question_ids"][0]
    sql = "SELECT score FROM qa_question WHERE id = %s"
    fail_at, back_at = seconds / 4, seconds / 2

    def send(client: int, n: int) -> tuple[str, str]:
        return (("POST", f"/api/questions/{qid}/vote/") if n % 10 == 0
                else ("GET", f"/api/questions/{qid}/"))

    def failure(out: under_failure.Outcomes) -> None:
        out.until(fail_at, note="failed_at_s")
        stack.replica.crash()
        out.until(back_at, note="restarted_at_s")
        stack.replica.start()
        out.note("ready_at_s")
        out.note("reads_back_at_s", float("nan"))
        while out.elapsed() < seconds - 0.1:
            if _app_connections(stack):
                out.note("reads_back_at_s")
                break
            time.sleep(0.05)

    out = under_failure.run(
        stack.app_url, send, failure, clients=clients, seconds=seconds,
        cpus=stack.layout.generator,
        counter=lambda: stack.db.query(sql, (qid,), dbname=stack.dataset.db_name)[0][0])
    rows = []
    for counts in out.per_second(seconds, STOP_COLUMNS):
        rec = {"variant": "replica fails", **counts, **out.events,
               "last_failure_s": out.last_failure_s,
               "votes_answered": out.total("POST", True), "votes_counted": out.counted,
               "limit": one_user_limit(0)}
        keep(rows, rec, on_point)
    return done(rows, on_point)


# the app's connections to a database (the lab's own, named LAB_CLIENT, left out)
APP_CONNECTIONS = ("SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND "
                   "backend_type = 'client backend' AND application_name <> %s")


def _app_connections(stack: Stack) -> int:
    """The app's connections to the replica's copy of its database."""
    return stack.replica.query(APP_CONNECTIONS, (stack.dataset.db_name, LAB_CLIENT))[0][0]


def failover(rows: pd.DataFrame) -> dict:
    """What the replica's crash cost, from :func:`replica_fails`'s rows: requests failed,
    and how long after the crash the last one failed (the fallback's delay); reads answered
    while the replica was down (by the primary); how long after the replica was ready again
    its reads came back to it."""
    first = rows.iloc[0]
    down = rows[(rows.second >= int(first.failed_at_s)) & (rows.second < int(first.ready_at_s))]
    failed = int(rows.reads_failed.sum() + rows.writes_failed.sum())
    return {"failed": failed,
            "reads_failed": int(rows.reads_failed.sum()),
            "writes_failed": int(rows.writes_failed.sum()),
            "fallback_s": float(first.last_failure_s - first.failed_at_s) if failed else 0.0,
            "reads_ok_while_down": int(down.reads_ok.sum()),
            "restart_s": float(first.ready_at_s - first.restarted_at_s),
            "back_s": float(first.reads_back_at_s - first.ready_at_s),
            "votes_answered": int(first.votes_answered),
            "votes_counted": int(first.votes_counted)}


def project_reads(rows: pd.DataFrame, replicas: Sequence[int] = (0, 1, 2, 4)) -> pd.DataFrame:
    """Read turns per second the database tier could serve, each server on a machine like
    this one's server CPUs: without a replica, 1000 ÷ the database's CPU-ms per read turn;
    with k replicas, k × 1000 ÷ a replica's (the primary kept for the writes). From the
    server-bound read points of each stack (utilisation law)."""
    reads = rows[(rows.kind == "reads") & (rows["limit"] == "server")]
    without = reads[reads.config == WITHOUT].cpu_ms_per_req_db.mean()
    replica = reads[reads.config == WITH].cpu_ms_per_req_replica.mean()
    out = []
    for k in replicas:
        check_int("replicas", k, 0, 1000)
        cost = without if k == 0 else replica
        out.append({"replicas": k, "db_reads_s": (max(k, 1) * 1000 / cost) if cost else np.nan})
    df = pd.DataFrame(out)
    df["gain"] = df.db_reads_s / df.db_reads_s.iloc[0]
    return df


def replicas_for_solution(rows: pd.DataFrame, gain: float = 4, most: int = 8) -> str:
    """Exercise 1's worked solution: how many replicas serve ``gain`` times the reads the
    primary alone could (``project_reads`` up to ``most`` replicas), and why that many: a
    replica's CPU-ms per read turn beside the primary's."""
    proj = project_reads(rows, replicas=range(0, most + 1)).set_index("replicas")
    without, replica = 1000 / proj.db_reads_s[0], 1000 / proj.db_reads_s[1]  # CPU-ms a turn
    if not (without > 0 and replica > 0):
        return ("This run has no server-bound read points of both stacks, so no cost per read "
                "turn to project from: see the table of Experiment 1.")
    said = (f"A read turn cost the primary alone {fmt(without, 3)} CPU-ms and a replica "
            f"{fmt(replica, 3)} ({fmt(replica / without, 3)} times as much). ")
    enough = proj[proj.gain >= gain]
    if enough.empty:
        return said + (f"Even {most} replicas give only {fmt(proj.gain.iloc[-1])} times the "
                       f"primary's reads: more than {most} replicas.")
    k = int(enough.index[0])
    count = f"**{k} replica** is" if k == 1 else f"**{k} replicas** are"
    return said + (f"With k replicas the tier serves k × 1000 ÷ {fmt(replica, 3)} read turns a "
                   f"second, so {count} the first to reach "
                   f"{fmt(gain)} times the primary's {fmt(1000 / without, 3)} (gain "
                   f"{fmt(enough.gain.iloc[0])}): {gain:g} if a replica did a read for what the "
                   "primary did, more as it pays more, fewer as it pays less.")


def lag_summary(rows: pd.DataFrame) -> pd.DataFrame:
    """Per write rate asked (``variant``): the rate measured, the share of samples that found
    the replica behind (``behind``), and lag's median, p90 and max in KB and ms."""
    g = rows.groupby("variant", sort=False)
    out = pd.DataFrame({
        "writes_s": g.writes_s.first(),
        "behind": g.lag_bytes.apply(lambda b: float((b > 0).mean())),
        "lag_kb_p50": g.lag_bytes.median() / 1024,
        "lag_kb_p90": g.lag_bytes.quantile(0.9) / 1024,
        "lag_kb_max": g.lag_bytes.max() / 1024,
        "lag_ms_p50": g.lag_s.median() * 1000,
        "lag_ms_p90": g.lag_s.quantile(0.9) * 1000,
        "lag_ms_max": g.lag_s.max() * 1000,
        "samples": g.size()})
    return out.replace([np.inf, -np.inf], np.nan)


LAG_GROWTH = 1.5  # the heaviest writes' p90 replay_lag over the lightest's that says "grew"
RATE_SPREAD = 1.5  # the highest write rate over the lowest below which no relation is drawn


def lag_sentence(summary: pd.DataFrame) -> str:
    """What ``lag_summary`` shows, in two sentences chosen from it: the lag at the lowest and
    the highest write rate measured, then whether it grew with the rate (its p90 replay_lag
    up ``LAG_GROWTH`` times or more, and as many samples behind), or that the rates were too
    close to tell (under ``RATE_SPREAD`` apart), and whether any sample found it behind."""
    s = summary.sort_values("writes_s")
    lo, hi = s.iloc[0], s.iloc[-1]
    said = (f"From {fmt(lo.writes_s, 3)} to {fmt(hi.writes_s, 3)} votes/s, the replica's "
            f"replay_lag went from a median of {fmt(lo.lag_ms_p50)} ms (p90 "
            f"{fmt(lo.lag_ms_p90)} ms) to {fmt(hi.lag_ms_p50)} ms (p90 {fmt(hi.lag_ms_p90)} "
            f"ms), and the samples that found WAL not yet replayed from {lo.behind:.0%} to "
            f"{hi.behind:.0%} (p90 {fmt(lo.lag_kb_p90)} KB to {fmt(hi.lag_kb_p90)} KB). ")
    if not hi.writes_s >= RATE_SPREAD * lo.writes_s:
        said += ("**The write rates were too close to relate the lag to them**: the primary "
                 "took about as many votes a second at each rate asked.")
    elif hi.lag_ms_p90 > 0 and hi.lag_ms_p90 >= LAG_GROWTH * lo.lag_ms_p90 \
            and hi.behind >= lo.behind:
        said += ("**The lag grew with the write rate**: the replica replays every write the "
                 "primary makes, on the same CPU, and the faster they come the further it "
                 "trails.")
    else:
        said += ("**The lag did not grow with the write rate here**: the replica kept up at "
                 "every rate this machine could write.")
    if (s.behind > 0).any() or (s.lag_ms_p90 > 0).any():
        said += " It is never zero, though: a read that closely follows a write can miss it."
    return said


ABOUT_LINEAR = 0.9  # a gain this share of linear or more is "about one primary's worth each"


def scale_takeaway(verdict: str, gain: float, replicas: int = 3) -> str:
    """The takeaway on replicas in the scale model, chosen from C11's verdict (``verdict``,
    its label) and its deciding figure ``gain`` (reads/s with ``replicas`` ÷ the primary
    alone): about linear (``ABOUT_LINEAR``), three quarters of it (``SCALE_OUT``, the rule's
    bar) or less, too close to tell, or not measured on this machine."""
    from scalelab.verdicts.rules.replicas import SCALE_OUT

    if not gain == gain:
        return ("The scale model measured no read gain on this machine (no host could be "
                "made): how far replicas add reads is Experiment 1's projection only, and a "
                "projection is not a measurement.")
    served = f"{replicas} served **{figure_text(gain)}** the primary's reads"
    if verdict.startswith("inconclusive"):
        return (f"In the scale model, {served} on hosts of their own: too close to three "
                f"quarters of linear ({fmt(SCALE_OUT * replicas, 3)}×) to say over these repeats.")
    if gain >= ABOUT_LINEAR * replicas:
        worth = "about one primary's worth of reads"
    elif gain >= SCALE_OUT * replicas:
        worth = "most of a primary's worth of reads"
    else:
        return (f"In the scale model each replica on a host of its own added less than three "
                f"quarters of a primary's worth of reads: {served} (linear: {replicas}×); "
                "Experiment 5's table says which host was the limit.")
    return (f"In the scale model each replica on a host of its own added {worth}: {served} "
            f"(linear: {replicas}×), measured, not only projected.")


def lag_takeaway(summary: pd.DataFrame, ryw: pd.DataFrame) -> str:
    """The takeaway on replication lag, from Experiment 2's ``lag_summary`` (was the replica
    ever seen behind?) and Experiment 3's rows (reads-after-write missed as it is, held back
    the longest delay, and with the fix at that delay)."""
    seen = bool((summary.behind > 0).any() or (summary.lag_ms_p90 > 0).any())
    said = (f"Replication lag was small but never zero here (p90 replay_lag at most "
            f"{fmt(summary.lag_ms_p90.max())} ms)" if seen else
            "Replication lag was too small to see here (every sample found the replica "
            "caught up)")
    r = ryw.set_index(["added_delay_ms", "way"])
    slow = int(ryw.added_delay_ms.max())
    as_is, held = r.loc[(0, "without the fix")], r.loc[(slow, "without the fix")]
    fixed = int(r.loc[(slow, "with the fix"), "missed"])
    if held.missed == 0 and as_is.missed == 0:
        return (said + f", and even held back {slow} ms the replica missed none of "
                f"{int(held.trials)} reads-after-write: a visitor misses their own write only "
                "when the replica trails by more than their next request takes.")
    return (said + f": a visitor can miss their own write ({int(as_is.missed)} of "
            f"{int(as_is.trials)} reads-after-write did as it is, {int(held.missed)} with the "
            f"replica {slow} ms behind). Sending a writer's reads to the primary for a few "
            "seconds left " + ("none missed." if fixed == 0 else f"{fixed} missed."))


def failure_takeaway(failover: dict, processes: int) -> str:
    """The takeaway on a replica's crash, from :func:`failover`'s figures and the app's
    ``processes`` (each learns of the crash from a read of its own that fails)."""
    failed = failover["failed"]
    if failed == 0:
        cost = "its crash cost no request here"
    elif failed <= 2 * processes:
        cost = (f"its crash cost {failed} request{'s' if failed > 1 else ''}, about one per "
                f"app process ({processes})")
    else:
        cost = (f"its crash cost {failed} requests over {fmt(failover['fallback_s'])} s, more "
                f"than one per app process ({processes})")
    return (f"A replica is one more thing that can fail: with a fallback in the router, {cost}, "
            f"and the primary answered the reads ({failover['reads_ok_while_down']} of them) "
            "until the replica was back.")


# the scale model's database tier: the primary and each replica a host of 1/32 core, small
# enough that the app servers (no host: the rest of the server CPU) keep three replicas busy
DB_HOSTS = {"db": 1 / 32, "replica": 1 / 32}
SCALE_WORKERS = 16  # sync workers: enough requests in flight, each waiting on a small host
# a fresh stack is warm once every app worker holds a connection to every standby: each new
# PostgreSQL backend pays its authentication and catalog caches (opened outside the hosts)
CONNECT_TIMEOUT_S = 60


def turn(reads: Sequence[str], writes: Sequence[str], share: float) -> tuple[tuple, tuple]:
    """A turn of requests in which ``share`` (below one half) are writes (a vote, POST),
    spread evenly among whole cycles of ``reads``: the fewest cycles that make the share
    exact. Returns the URLs and their methods."""
    from fractions import Fraction

    if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 <= share <= 0.5:
        raise ValueError(f"write share must be a number from 0 to 0.5, not {share!r}")
    ratio = Fraction(share).limit_denominator(100) / (1 - Fraction(share).limit_denominator(100))
    cycles = 1
    while (ratio * len(reads) * cycles).denominator != 1:
        cycles += 1
    n_reads = len(reads) * cycles
    n_writes = int(ratio * n_reads)
    after = {(i + 1) * n_reads // n_writes: i for i in range(n_writes)} if n_writes else {}
    urls, methods = [], []
    for k in range(1, n_reads + 1):  # the i-th vote after the ((i + 1) R / W)-th read
        urls.append(reads[(k - 1) % len(reads)])
        methods.append("GET")
        if k in after:
            urls.append(writes[after[k] % len(writes)])
            methods.append("POST")
    return tuple(urls), tuple(methods)


@replayed_without_hosts
@replayable
def scale_reads(counts: Sequence[int] = (0, 1, 2, 3), write_shares: Sequence[float] = WRITE_SHARES,
                hosts: dict | None = None, questions: int = 10_000,
                workers: int = SCALE_WORKERS, connections: int = SCALE_WORKERS,
                duration: int = 3,
                warmup: int = 1, repeats: int = 1, layout: CpuLayout | None = None,
                on_point: Callable[[dict], None] | None = None) -> pd.DataFrame:
    """Read capacity measured in the scale model: the primary and ``counts`` read replicas
    (0 to 3), each in a host of its own (``hosts``, default ``DB_HOSTS``); the app servers
    unhosted on the server CPUs, ``workers`` sync workers and as many wrk connections. At
    each count, wrk on the read-heavy turn of pages with a vote among them at each of
    ``write_shares``; a stack per count (the counts in turn within each repeat), measured
    once every worker is connected to every standby (:func:`_connect_every_worker`). Adds ``replicas``, ``write_share``, ``reads_s`` (requests/s that were
    reads) and ``config``; each host's use of its quota is in ``host_*_util``."""
    from scalelab.servers.postgres_replica import MAX_STANDBYS

    hosts = dict(DB_HOSTS if hosts is None else hosts)
    if not counts or any(isinstance(n, bool) or not isinstance(n, int) for n in counts):
        raise ValueError(f"counts must be a list of replica counts, not {counts!r}")
    for n in counts:
        check_int("replica count", n, 0, MAX_STANDBYS)
    if not write_shares:
        raise ValueError("write_shares must list at least one share of writes")
    check_int("repeats", repeats, 1, 50)
    rows: list[dict] = []
    for repeat in range(repeats):
        for n in counts:
            with Stack(read_replica=n, workers=workers, questions=questions, layout=layout,
                       hosts={k: v for k, v in hosts.items() if n or k != "replica"},
                       label="06-scale-reads") as stack:
                # set-up, not what is measured, at full speed outside the hosts: the pages
                # chosen once (the lab's own queries would run at 1/32 core too), the
                # statement counters not read (they would be, inside each window), and the
                # connections of every worker to every standby opened
                with stack.outside_hosts():
                    target = dataclasses.replace(as_target(stack), counters={})
                    pop = {"question_ids": target.question_ids, "tags": target.tags}
                    reads, writes = _reads(stack, pop=pop), _writes(stack, pop=pop)
                    _connect_every_worker(stack, reads, connections, layout)
                for share in write_shares:
                    urls, methods = turn(reads, writes, share)
                    rec = wrk.point(target, urls, connections, duration, warmup, layout,
                                    f"{share:.0%} writes", repeat, method=methods)
                    rec.update(config=f"{n} replica{'' if n == 1 else 's'}", replicas=n,
                               write_share=share, reads_s=rec["req_s"] * (1 - share),
                               db_host_cores=hosts.get("db", np.nan))
                    keep(rows, rec, on_point)
    return done(rows, on_point)


def _connect_every_worker(stack: Stack, reads: tuple[str, ...], connections: int,
                          layout: CpuLayout | None) -> None:
    """Reads until each standby holds a connection from every app worker (a cold stack's
    first window would otherwise pay for opening them): wrk on ``reads`` in the background,
    each standby asked every half second on one connection of the lab's, for at most
    ``CONNECT_TIMEOUT_S``."""
    if not stack.standbys:
        return
    workers, dbname = stack.config["workers"], stack.dataset.db_name
    with contextlib.ExitStack() as held, \
            wrk.background(reads, connections, CONNECT_TIMEOUT_S, layout or stack.layout,
                           "wrk-connect.log", "connect"):
        conns = [held.enter_context(s.connect(autocommit=True)) for s in stack.standbys]
        deadline = time.monotonic() + CONNECT_TIMEOUT_S
        while True:
            have = [c.execute(APP_CONNECTIONS, (dbname, LAB_CLIENT)).fetchone()[0]
                    for c in conns]
            if min(have) >= workers:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"the standbys held {have} app connections after "
                                   f"{CONNECT_TIMEOUT_S} s of reads, not {workers} each; see "
                                   f"{stack.run.logs}")
            time.sleep(0.5)


def read_gains(rows: pd.DataFrame) -> pd.DataFrame:
    """Per share of writes and repeat: reads/s at each replica count ÷ with none (0)."""
    out = []
    for (share, repeat), part in rows.groupby(["write_share", "repeat"], sort=False):
        base = part[part.replicas == 0].reads_s.mean() if (part.replicas == 0).any() \
            else np.nan
        for _, r in part.iterrows():
            out.append({"write_share": share, "repeat": repeat, "replicas": r.replicas,
                        "reads_s": r.reads_s, "gain": r.reads_s / base if base else np.nan,
                        "limit": r["limit"], "busiest_host": r.get("busiest_host", "")})
    return pd.DataFrame(out)
