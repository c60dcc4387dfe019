"""App replicas behind a load balancer (notebook 05): configurations, a projection to N
machines, a crash under load, and sessions across replicas.

On one machine the replicas share the server CPUs, so capacity follows cores, not instances;
what several machines would give is projected from the measured CPU per request by component
(:func:`project`): each app machine brings the app's share, while the balancer and the
database (or the cache) stay one each.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Callable, Sequence

import pandas as pd

from scalelab.load import open_rate, under_failure, wrk
from scalelab.plumbing import hosts, http
from scalelab.plumbing.checks import check_choice, check_int
from scalelab.plumbing.cpus import CpuLayout, pinned
from scalelab.plumbing.numbers import fmt
from scalelab.results.reference import replayable, replayed_without_hosts
from scalelab.results import done, keep
from scalelab.servers.nginx import BALANCE
from scalelab.servers.stack import Stack, check_host_cores
from scalelab.measurement.limits import one_user_limit
from scalelab.verdicts.projection import (  # noqa: F401  (the notebook calls them here)
    PER_PROCESS, costs_of, project)
from scalelab.verdicts.rules.replicas import DEFAULT_STORE

PAGES = {"page": "/", "cached page": "/c/view/"}  # the uncached home page; from the view cache
ENGINES = {  # session engine -> the Stack settings that give it
    DEFAULT_STORE: {"session": "db"},  # "database", Django's default
    "cache (Redis)": {"session": "cache", "cache": "redis"},
    "cached_db": {"session": "cached_db", "cache": "redis"},
    "signed cookies": {"session": "signed_cookies"},
    PER_PROCESS: {"session": "cache", "cache": "locmem"},  # "per-process memory"
}


@dataclass(frozen=True)
class Config:
    """App servers behind nginx: ``replicas`` instances of ``workers`` sync workers each."""

    replicas: int
    workers: int
    balance: str = "round_robin"

    @property
    def label(self) -> str:
        each = f"{self.workers} worker{'s' if self.workers > 1 else ''}"
        extra = ", least_conn" if self.balance == "least_conn" else ""
        return f"{self.replicas} × {each}{extra}"


def configurations(total_workers: int, replica_counts: Sequence[int] = (1, 2),
                   least_conn: bool = False) -> list[Config]:
    """The same number of workers in all, split into 1, 2, ... replicas (each count must
    divide it); with ``least_conn``, the largest split once more under nginx's least_conn."""
    check_int("total_workers", total_workers, 1, 64)
    out = []
    for n in replica_counts:
        check_int("replica count", n, 1, 16)
        if total_workers % n:
            raise ValueError(f"replica counts must divide total_workers={total_workers}; "
                             f"{n} does not")
        out.append(Config(n, total_workers // n))
    if least_conn:
        top = out[-1]
        out.append(Config(top.replicas, top.workers, "least_conn"))
    return out


@replayable
def measure(configs: Sequence[Config], questions: int = 10_000, connections: int = 16,
            duration: int = 3, warmup: int = 1, repeats: int = 1,
            layout: CpuLayout | None = None,
            on_point: Callable[[dict], None] | None = None) -> pd.DataFrame:
    """Each configuration on a stack of its own (nginx in front, Redis for the cached page):
    wrk on the uncached and the cached home page through nginx, repeats interleaved within
    the stack. Adds ``config``, ``replicas``, ``workers`` and ``balance``."""
    check_int("repeats", repeats, 1, 50)
    if not configs:
        raise ValueError("configs must name at least one configuration")
    rows = []
    for cfg in configs:
        check_choice("balance", cfg.balance, BALANCE)
        with Stack(replicas=cfg.replicas, workers=cfg.workers, balance=cfg.balance,
                   proxy="nginx", cache="redis", questions=questions, layout=layout,
                   label=f"05-replicas-{cfg.replicas}x{cfg.workers}") as stack:
            for repeat in range(repeats):
                for variant, path in PAGES.items():
                    rec = wrk.point(stack, stack.base_url + path, connections, duration,
                                    warmup if repeat == 0 else 0, layout, variant, repeat)
                    rec.update(config=cfg.label, replicas=cfg.replicas, workers=cfg.workers,
                               balance=cfg.balance)
                    keep(rows, rec, on_point)
    return done(rows, on_point)


# --- a crash under load ------------------------------------------------------------------
CRASH_COLUMNS = {("GET", True): "get_ok", ("GET", False): "get_failed",
                 ("POST", True): "post_ok", ("POST", False): "post_failed"}


def _score(stack: Stack, qid: int) -> int:
    return stack.db.query("SELECT score FROM qa_question WHERE id = %s", (qid,),
                          dbname=stack.dataset.db_name)[0][0]


@replayable
def crash(stack: Stack, seconds: int = 9, crash_at: float = 3, restore_at: float = 6,
          clients: int = 8, post_share: float = 0.1, replica: int = 2,
          on_point: Callable[[dict], None] | None = None) -> pd.DataFrame:
    """A closed load of ``clients`` (each: GET a question's JSON, or with ``post_share`` vote
    on it) through nginx for ``seconds``; app server ``replica`` is killed at ``crash_at`` s
    and started again at ``restore_at`` s. One row per second: GETs and POSTs answered and
    failed (a 5xx or a broken connection). Every row also carries the votes answered 2xx and
    the votes the database counted over the whole run: more counted than answered means a
    vote was applied twice or applied without an answer."""
    check_int("seconds", seconds, 2, 600)
    check_int("clients", clients, 1, 64)
    if not 0 < crash_at < restore_at <= seconds:
        raise ValueError(f"crash_at and restore_at must satisfy 0 < crash_at < restore_at <= "
                         f"seconds, not {crash_at}, {restore_at}, {seconds}")
    if not 0 <= post_share <= 1:
        raise ValueError(f"post_share must be from 0 to 1, not {post_share!r}")
    stack._replica(replica)  # refuse a bad replica number before any load
    qid = stack.popularity()["question_ids"][0]

    def send(client: int, n: int) -> tuple[str, str]:
        post = post_share and (n * post_share) % 1 < post_share  # every 1/share-th
        return (("POST", f"/api/questions/{qid}/vote/") if post
                else ("GET", f"/api/questions/{qid}/"))

    def failure(out: under_failure.Outcomes) -> None:
        out.until(crash_at, note="crashed_at_s")
        stack.crash_replica(replica)
        out.until(restore_at, note="restore_started_s")
        stack.restore_replica(replica)
        out.note("restored_at_s")

    # each client on a keep-alive connection, a request sent again once when it breaks
    out = under_failure.run(stack.base_url, send, failure, clients=clients, seconds=seconds,
                            cpus=stack.layout.generator, counter=lambda: _score(stack, qid),
                            attempts=2)
    rows = []
    for counts in out.per_second(seconds, CRASH_COLUMNS):
        rec = {"variant": "crash", **counts, "retry_post": stack.config["retry_post"],
               **out.events, "votes_answered": out.total("POST", True),
               "votes_counted": out.counted, "limit": one_user_limit(0)}
        keep(rows, rec, on_point)
    return done(rows, on_point)


def crash_summary(rows: pd.DataFrame) -> dict:
    """Failed requests, the span from the first failure to the last (s), the votes, and the
    slowest second against the median one."""
    failed = rows.get_failed + rows.post_failed
    bad = rows[failed > 0].second
    answered = rows.get_ok + rows.post_ok
    return {"slowest_second": int(rows.second[answered.idxmin()]),
            "slowest_answered": int(answered.min()), "median_answered": float(answered.median()),
            "failed_gets": int(rows.get_failed.sum()), "failed_posts": int(rows.post_failed.sum()),
            "answered": int((rows.get_ok + rows.post_ok).sum()),
            "errors_for_s": float(bad.max() - bad.min() + 1) if len(bad) else 0.0,
            "votes_answered": int(rows.votes_answered.iloc[0]),
            "votes_counted": int(rows.votes_counted.iloc[0])}


# --- sessions across replicas ------------------------------------------------------------
def _login(base_url: str, user: int) -> str:
    """Log user ``user`` in; the session cookie the app set ("name=value")."""
    resp = http.get(f"{base_url}/s/login/?user={user}", timeout=10)
    if resp.status != 200:
        raise RuntimeError(f"login answered {resp.status}")
    cookie = SimpleCookie(resp.header("Set-Cookie"))
    if "sessionid" not in cookie:
        raise RuntimeError("login set no session cookie")
    return f"sessionid={cookie['sessionid'].value}"


def count_lost(stack: Stack, users: int = 20, requests: int = 10) -> dict:
    """``users`` visitors log in, then each asks for /s/me/ ``requests`` times on a new
    connection each time (so the balancer may send any request anywhere): the share that
    found no session (403)."""
    check_int("users", users, 1, 10_000)
    check_int("requests", requests, 1, 10_000)
    lost = total = 0
    served_by: set = set()
    with pinned(stack.layout.generator):
        for user in range(users):
            cookie = _login(stack.base_url, user)
            for _ in range(requests):
                resp = http.get(stack.base_url + "/s/me/", {"Cookie": cookie}, timeout=10)
                body = json.loads(resp.body or b"{}")
                total += 1
                lost += resp.status == 403
                served_by.add(body.get("pid"))
    return {"requests": total, "lost": lost, "lost_share": lost / total,
            "processes_seen": len(served_by - {None})}


def session_stack(engine: str, replicas: int = 2, questions: int = 10_000,
                  layout: CpuLayout | None = None) -> Stack:
    check_choice("engine", engine, tuple(ENGINES))
    return Stack(replicas=replicas, workers=1, proxy="nginx", questions=questions,
                 layout=layout, label=f"05-sessions-{engine.split()[0]}", **ENGINES[engine])


@replayable
def sessions(engines: Sequence[str] = tuple(ENGINES), replicas: int = 2, users: int = 20,
             requests: int = 10, connections: int = 8, duration: int = 3, warmup: int = 1,
             questions: int = 10_000, layout: CpuLayout | None = None,
             on_point: Callable[[dict], None] | None = None) -> pd.DataFrame:
    """Per session engine, on a stack of ``replicas`` app servers behind round-robin nginx:
    the share of a logged-in visitor's requests that lost the session (``count_lost``), and
    what a logged-in request costs (wrk on /s/me/ with one visitor's cookie; the request
    reads the session and writes it back). Two rows per engine, told apart by ``kind``:
    "logins" (``count_lost``'s figures: a visitor's count, limit ``one user``) and "cost"
    (wrk's point; with a per-process store it fails about half its requests, and is flagged
    so)."""
    unknown = [e for e in engines if e not in ENGINES]
    if unknown or not engines:
        raise ValueError(f"engines must be among {', '.join(map(repr, ENGINES))}, not "
                         f"{unknown or list(engines)!r}")
    rows = []
    for engine in engines:
        with session_stack(engine, replicas, questions, layout) as stack:
            lost = {"kind": "logins", "variant": engine, "engine": engine, "repeat": 0,
                    **count_lost(stack, users, requests), "limit": one_user_limit(0)}
            cookie = _login(stack.base_url, 10_000)
            cost = wrk.point(stack, stack.base_url + "/s/me/", connections, duration, warmup,
                             layout, engine, 0, headers={"Cookie": cookie})
            cost.update(kind="cost", engine=engine)
            for rec in (lost, cost):
                rec["config"] = f"{replicas} replicas"
                keep(rows, rec, on_point)
    return done(rows, on_point)


# --- the scale model: app servers in hosts of their own ----------------------------------
# 8 app hosts of 1/16 core, the database in a quarter, nginx in an eighth, Redis in a
# sixteenth: 15/16 of the one server CPU, so hosts never compete for it (09 plans on it too)
SCALE_HOSTS = dict(hosts.DEPLOYMENT)
CALIBRATION_PAGE = "/"  # the uncached home page: the app's own CPU is most of its cost
# the least warm-up after app servers start in hosts: a fresh worker's first requests (its
# database connection, Django's lazy set-up) take seconds at 1/16 core, and a window without
# one would measure them, or nothing at all
HOST_WARMUP = 1


HALF_LOAD = 0.5  # the share of its capacity at which a host's latency is compared


def half_load_latency(cal: pd.DataFrame) -> pd.DataFrame:
    """From :func:`calibrate`'s rows, per stack and repeat: the open load at half what the
    stack served (its offered rate, the host's use of its quota, the server CPUs' busy
    share) and its latency: mean, p99, and p99 ÷ mean (how long the tail is)."""
    half = cal[cal.generator == "open"]
    out = pd.DataFrame({
        "config": half.config, "repeat": half.repeat, "host_cores": half.host_cores,
        "offered_rate": half.offered_rate,
        "host_use": half.get("busiest_host_util", pd.Series(math.nan, index=half.index)),
        "server_cpus_busy": half.server_cpus_busy, "mean_ms": half.mean_ms,
        "p99_ms": half.p99_ms, "p99_over_mean": half.p99_ms / half.mean_ms})
    return out.reset_index(drop=True)


def _check_cores(cores: Sequence[float]) -> None:
    if not cores or any(isinstance(q, bool) or not isinstance(q, (int, float))
                        or not 1 / 64 <= q < 1 for q in cores):
        raise ValueError(f"cores must be a list of host sizes from 1/64 to below 1 core, not "
                         f"{cores!r}")


@replayable
@replayed_without_hosts
def calibrate(cores: Sequence[float] = (0.25, 0.5), questions: int = 10_000,
              connections: int = 4, duration: int = 3, warmup: int = 1, repeats: int = 1,
              layout: CpuLayout | None = None,
              on_point: Callable[[dict], None] | None = None) -> pd.DataFrame:
    """The scale model checked against the machine: the uncached home page from one app
    server of two workers with no host, then in a host of each of ``cores`` (the database
    beside it, on what the server CPU has left); the stacks started together, the repeats
    interleaved. Adds ``host_cores`` (NaN: no host) and, to each hosted point, what a host of
    q cores should serve: ``predicted_req_s`` = q ÷ the app's CPU-seconds per request without
    a host (same repeat), and ``calibration`` = measured ÷ predicted. Then, on each stack, an
    open load (Poisson arrivals) at ``HALF_LOAD`` of the rate it just served, for its latency
    at half load (``generator`` "open"; :func:`half_load_latency`)."""
    _check_cores(cores)
    check_int("repeats", repeats, 1, 50)
    stacks = {"no host": Stack(workers=2, questions=questions, layout=layout,
                               label="05-calibrate-none")}
    for q in cores:
        stacks[f"host of {q:g} core"] = Stack(workers=2, questions=questions, layout=layout,
                                              hosts={"app": q}, label=f"05-calibrate-{q:g}")
    sizes = {"no host": math.nan, **{f"host of {q:g} core": q for q in cores}}
    rows: list[dict] = []
    try:
        Stack.start_together(stacks)
        for repeat in range(repeats):
            whole = None
            for name, stack in stacks.items():
                # the uncached page's first renders take seconds in a small host: as in
                # scale_out, two seconds of warm-up at least
                rec = wrk.point(stack, stack.app_url + CALIBRATION_PAGE, connections, duration,
                                max(warmup, HOST_WARMUP + 1) if repeat == 0 else 0, layout,
                                name, repeat)
                rec.update(config=name, host_cores=sizes[name])
                if whole is None:
                    whole = rec
                else:
                    app_ms = whole["cpu_ms_per_req_app"]
                    rec["predicted_req_s"] = (sizes[name] * 1000 / app_ms if app_ms > 0
                                              else math.nan)
                    rec["calibration"] = rec["req_s"] / rec["predicted_req_s"]
                keep(rows, rec, on_point)
                if rec["req_s"] > 0:
                    half = open_rate.point(stack, stack.app_url + CALIBRATION_PAGE,
                                           HALF_LOAD * rec["req_s"], duration, 1, layout,
                                           f"{name}, half load (open)", repeat,
                                           seed=1 + repeat)
                    half.update(config=name, host_cores=sizes[name])
                    keep(rows, half, on_point)
    finally:
        Stack.stop_together(stacks)
    return done(rows, on_point)


@replayable
@replayed_without_hosts
def scale_out(counts: Sequence[int] = (1, 2, 4, 8), hosts: dict | None = None,
              workers: int = 2, questions: int = 10_000, connections_per_host: int = 3,
              duration: int = 3, warmup: int = 1, repeats: int = 1,
              layout: CpuLayout | None = None,
              on_point: Callable[[dict], None] | None = None) -> pd.DataFrame:
    """Scale-out measured in the scale model: 1, 2, 4, 8 app servers (``counts``), each in a
    host of its own, behind nginx, with PostgreSQL, nginx and Redis in hosts of fixed size
    (``hosts``, default ``SCALE_HOSTS``). At each count, wrk on the uncached and the cached
    home page through nginx, with ``connections_per_host`` connections for each app host (a
    few more than its workers: enough to keep it busy, few enough that a request does not
    wait seconds in its queue); the counts taken in turn within each repeat (the stack
    reconfigured to each; a warm-up after each change, before its first page). Adds ``app_hosts``,
    ``app_host_cores`` and ``config``; each host's use of its quota is in ``host_*_util``."""
    hosts = dict(SCALE_HOSTS if hosts is None else hosts)
    if not counts or any(isinstance(n, bool) or not isinstance(n, int) for n in counts):
        raise ValueError(f"counts must be a list of app host counts, not {counts!r}")
    for n in counts:
        check_int("app host count", n, 1, 16)
    check_int("repeats", repeats, 1, 50)
    check_int("connections_per_host", connections_per_host, 1, 64)
    if "app" not in hosts:
        raise ValueError(f"hosts must give the app servers a host size ('app'), not {hosts!r}")
    rows: list[dict] = []
    stack = Stack(replicas=counts[0], workers=workers, proxy="nginx", cache="redis",
                  hosts=hosts, questions=questions, layout=layout, label="05-scale-out")
    # the largest count is refused before anything starts if its hosts cannot fit
    check_host_cores(stack.config.replace(replicas=max(counts)), stack.layout)
    with stack:
        for repeat in range(repeats):
            for n in counts:
                stack.reconfigure(replicas=n)
                # each page warmed up: the app servers just started, and a worker's first
                # render of a page takes seconds at 1/16 core (the uncached page a second
                # longer: every worker renders it; the cached one only fills the cache once)
                for i, variant in enumerate(PAGES):
                    warm = max(warmup, HOST_WARMUP + (1 if i == 0 else 0))
                    rec = wrk.point(stack, stack.base_url + PAGES[variant],
                                    connections_per_host * n, duration, warm, layout,
                                    variant, repeat)
                    rec.update(config=f"{n} app host{'s' if n > 1 else ''}", app_hosts=n,
                               app_host_cores=hosts["app"])
                    keep(rows, rec, on_point)
    return done(rows, on_point)


def db_cap_solution(costs: dict[str, float], table: pd.DataFrame) -> str:
    """Exercise 1's worked solution: how many app machines a page can use before its database
    saturates, from its CPU-ms per request by component (``costs_of``) and its projection
    (``project``, whose first capped row then says whether the database is what caps it)."""
    app, db = costs.get("app", math.nan), costs.get("db", math.nan)
    if not (app > 0 and db > 0):
        return "This run gave no database cost for the page: there is no machine count to give."
    said = (f"The page cost the app {fmt(app, 3)} CPU-ms a request and the database "
            f"{fmt(db, 3)}: the database caps the total at 1000 ÷ {fmt(db, 3)} = "
            f"{fmt(1000 / db, 3)} requests/s, which app machines reach at N = {fmt(app, 3)} ÷ "
            f"{fmt(db, 3)} ≈ **{fmt(app / db)}**. ")
    capped = table[table.limited_by != "app machines"]
    if capped.empty:
        return said + (f"The projection goes to {int(table.machines.max())} machines only, "
                       "fewer than that: no row of it is capped yet.")
    first = capped.iloc[0]
    if first.limited_by == "the db server":
        return said + (f"In the projection, {int(first.machines)} machines is the first row "
                       "limited by the db server, the first count past N.")
    return said + (f"In the projection {first.limited_by} caps it first, from "
                   f"{int(first.machines)} machines on: its own cost per request is the "
                   "larger share of a machine.")


SHARED_CORES = 1.15  # replicas on one machine's cores "add no capacity" below this gain


def one_machine_takeaway(gain: float, cores: int) -> str:
    """The takeaway on app-server replicas on one machine, from the uncached page's requests/s
    with the most replicas ÷ with one, the same workers in all, on ``cores`` server CPUs."""
    said = (f"On one machine, the same workers split among more app-server instances served "
            f"{fmt(gain)}× the uncached pages of one instance, on {cores} shared "
            f"core{'s' if cores > 1 else ''}")
    if gain < SHARED_CORES:
        return said + ": capacity follows cores, not processes."
    return (said + ": more than sharing the same cores allows if nothing else changed. What "
            "moved it is not measured here (nginx balancing the instances, against one "
            "server's own queue, is a candidate); the same cores still cap it.")


def cache_and_scale_out(page: pd.DataFrame, cached: pd.DataFrame) -> str:
    """Whether a page cache let app machines multiply further, from the two pages' tables of
    machines (``limited_by``: "app machines" until something shared caps the rate): the
    cached page capped at fewer machines, at the same number, or at more."""
    def capped_at(t: pd.DataFrame) -> float:
        shared = t[t.limited_by != "app machines"]
        return float(shared.machines.iloc[0]) if len(shared) else math.inf

    page_at, cached_at = capped_at(page), capped_at(cached)
    if cached_at < page_at:
        return ("A page cache takes the database out of the request, but each machine then "
                "serves more, so the cached page meets a shared limit at fewer machines: "
                "caching raises what each machine serves, not how many machines help.")
    if cached_at > page_at:
        return ("A page cache takes the database out of the request, and here that let more "
                "app machines help before something shared capped the rate.")
    return ("A page cache takes the database out of the request; both pages meet a shared "
            "limit at the same number of machines.")


def scale_out_gains(rows: pd.DataFrame) -> pd.DataFrame:
    """Per page and repeat: requests/s at each count of app hosts ÷ at the smallest count."""
    out = []
    for (variant, repeat), part in rows.groupby(["variant", "repeat"], sort=False):
        base = part[part.app_hosts == part.app_hosts.min()].req_s.mean()
        for _, r in part.iterrows():
            out.append({"variant": variant, "repeat": repeat, "app_hosts": r.app_hosts,
                        "req_s": r.req_s, "gain": r.req_s / base if base else math.nan,
                        "limit": r["limit"], "busiest_host": r.get("busiest_host", "")})
    return pd.DataFrame(out)
