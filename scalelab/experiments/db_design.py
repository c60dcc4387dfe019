"""Database design and writes (notebook 07): indexes at growing table sizes, the N+1 pattern,
ways to hold database connections, PostgreSQL's settings, and four ways to count a vote.

Everything runs on one stack (:func:`start_stack`) whose settings the experiments change with
``Stack.reconfigure`` and put back when they end, whatever happens: the data set's size, the
app's connection handling, PgBouncer, PostgreSQL's settings. An index an experiment drops is
noted in the data set's database first, so the next stack puts it back even after a kill.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from typing import Callable, Iterator, Sequence

import numpy as np
import pandas as pd
import psutil

from scalelab.plumbing import binaries, http, paths
from scalelab.load import pgbench, under_failure, wrk
from scalelab.plumbing.checks import check_int
from scalelab.plumbing.cpus import CpuLayout, pinned
from scalelab.plumbing.numbers import figure_text, fmt
from scalelab.results.reference import replayable
from scalelab.results import done, keep
from scalelab.servers import AppConfig
from scalelab.servers.postgres import LAB_CLIENT
from scalelab.servers.stack import Stack
from scalelab.measurement.limits import one_user_limit
from scalelab.verdicts.rules.db_design import HOT, SPREAD, TUNING_WORTH

# --- the stack ------------------------------------------------------------------------------
WORKERS = 2  # app workers: two concurrent votes are enough to collide


def start_stack(questions: int = 10_000, workers: int = WORKERS,
                layout: CpuLayout | None = None, label: str = "07") -> Stack:
    """The app under gunicorn on PostgreSQL, persistent connections, no cache: every request
    reaches the database, so its design shows."""
    return Stack(questions=questions, workers=workers, layout=layout, label=label).start()


def stop(stack: Stack) -> None:
    stack.stop()


@contextlib.contextmanager
def _settings_restored(stack: Stack, *names: str) -> Iterator[None]:
    """Put the stack's ``names`` settings back as they were when the block ends."""
    before = {n: stack.config[n] for n in names}
    try:
        yield
    finally:
        if stack.run is not None and any(stack.config[n] != v for n, v in before.items()):
            stack.reconfigure(**before)


def _current_first(stack: Stack, variants: dict[str, dict]) -> list[str]:
    """The names of ``variants`` (name -> stack settings), the one the stack runs now first:
    it needs no restart."""
    now = [n for n, v in variants.items() if all(stack.config[k] == x for k, x in v.items())]
    return now[:1] + [n for n in variants if n not in now[:1]]


_POPULAR: dict[tuple[str, int], dict] = {}


def _popular(stack: Stack, n: int = 64) -> dict[str, list]:
    """The ``n`` most viewed questions and the most used tags of the stack's data set (read
    once per data set: at a million questions the whole order is a large read)."""
    key = (stack.dataset.db_name, n)
    if key not in _POPULAR:
        name = stack.dataset.db_name
        qids = [r[0] for r in stack.db.query(
            "SELECT id FROM qa_question ORDER BY view_count DESC, id LIMIT %s", (n,), dbname=name)]
        tags = [r[0] for r in stack.db.query(
            "SELECT name FROM qa_tag ORDER BY question_count DESC, id LIMIT 8", dbname=name)]
        _POPULAR[key] = {"question_ids": qids, "tags": tags}
    return _POPULAR[key]


class _Periodic:
    """Call ``step()`` every ``every_s`` seconds from a thread on ``cpus`` while a block runs
    (first at once, or after one interval with ``wait_first``); ``values`` holds what the calls
    returned (a call that raised is skipped); ``close()`` runs in that thread at the end."""

    def __init__(self, step: Callable[[], float], cpus, every_s: float,
                 wait_first: bool = False, close: Callable[[], None] | None = None):
        self.step, self.cpus, self.every_s = step, cpus, every_s
        self.wait_first, self.close = wait_first, close
        self.values: list[float] = []
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        with pinned(self.cpus):
            if not (self.wait_first and self._halt.wait(self.every_s)):
                while not self._halt.is_set():
                    try:
                        self.values.append(float(self.step()))
                    except Exception:
                        pass
                    self._halt.wait(self.every_s)
            if self.close:
                self.close()

    def __enter__(self) -> "_Periodic":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._halt.set()
        self._thread.join(timeout=30)

    @property
    def mean(self) -> float:
        return float(np.mean(self.values)) if self.values else np.nan

    @property
    def peak(self) -> float:
        return float(np.max(self.values)) if self.values else np.nan


def _sampler(stack: Stack, sql: str, params, layout: CpuLayout | None,
             every_s: float = 0.1) -> _Periodic:
    """A query answering one number, run every ``every_s`` on one connection of its own."""
    box: dict = {}

    def step() -> float:
        try:
            box["conn"] = box.get("conn") or stack.db.connect(autocommit=True)
            return float(box["conn"].execute(sql, params).fetchone()[0])
        except Exception:
            box["conn"] = None
            raise

    def close() -> None:
        if box.get("conn") is not None:
            box["conn"].close()

    return _Periodic(step, (layout or stack.layout).generator, every_s, close=close)


# --- 1. indexes -----------------------------------------------------------------------------
INDEXED = ("qa_question", "score")  # the home page's ORDER BY: only a declared index serves it
INDEX_STATES = {"Django's defaults": False, "index on score": True}
PAGES = ("home", "tag")


@contextlib.contextmanager
def index_state(stack: Stack, present: bool) -> Iterator[list[str]]:
    """With ``present=False``: the data set without any index on ``qa_question.score`` (what
    Django makes for ``score = IntegerField()``: foreign keys and primary keys only) for the
    block, put back after. With ``present=True``: as seeded. Yields the indexes dropped."""
    dropped = stack.dataset.drop_index(stack.db, *INDEXED) if not present else []
    try:
        yield dropped
    finally:
        if dropped:
            stack.dataset.restore_indexes(stack.db)


def has_index(stack: Stack) -> bool:
    """Whether some index of ``qa_question`` starts with ``score``."""
    return bool(stack.db.query(
        "SELECT 1 FROM pg_indexes WHERE tablename = %s AND indexdef LIKE %s",
        (INDEXED[0], f"%({INDEXED[1]})%"), dbname=stack.dataset.db_name))


def page_sql(stack: Stack, pages: Sequence[str] = PAGES) -> dict[str, str]:
    """The SQL of each page's main query as the app builds it (``manage.py explain``)."""
    env = dict(os.environ)
    env.update(AppConfig(db_port=stack.db.port, db_name=stack.dataset.db_name,
                         conn_max_age=0).env())
    out = subprocess.run([sys.executable, "manage.py", "explain", *pages], cwd=paths.APP_DIR,
                         env=env, capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise RuntimeError(f"manage.py explain failed (exit {out.returncode}):\n"
                           f"{out.stderr[-2000:]}")
    return {page: info["sql"] for page, info in json.loads(out.stdout).items()}


def explain(stack: Stack, sql: dict[str, str]) -> dict[str, dict]:
    """EXPLAIN (ANALYZE, BUFFERS) of each page's query (``page_sql``): per page the plan,
    its execution time (ms), the shared buffers it hit and read (pages of 8 kB), its scan."""
    plans = {}
    for page, query in sql.items():
        lines = stack.db.query("EXPLAIN (ANALYZE, BUFFERS) " + query,
                               dbname=stack.dataset.db_name)
        plan = "\n".join(r[0] for r in lines)
        plans[page] = {"plan": plan, **_plan_figures(plan)}
    return plans


def _plan_figures(plan: str) -> dict:
    lines = plan.splitlines()
    ms = next((float(ln.split(":")[1].split()[0]) for ln in lines
               if ln.strip().startswith("Execution Time:")), np.nan)
    hit = read = 0
    top = next((ln for ln in lines if ln.strip().startswith("Buffers: shared")), "")
    for part in top.replace("Buffers: shared", "").split():
        key, _, value = part.partition("=")
        if key == "hit":
            hit = int(value)
        elif key == "read":
            read = int(value)
    scan = "index scan" if "Index Scan" in plan or "Index Only Scan" in plan else "sequential scan"
    return {"execution_ms": ms, "buffers_hit": hit, "buffers_read": read, "scan": scan}


def _page_url(stack: Stack, page: str) -> str:
    if page == "home":
        return stack.app_url + "/"
    if page == "tag":
        return f"{stack.app_url}/tags/{_popular(stack)['tags'][0]}/"
    raise ValueError(f"page must be one of {', '.join(PAGES)}, not {page!r}")


@replayable
def indexes(stack: Stack, sizes: Sequence[int] = (10_000, 100_000),
            pages: Sequence[str] = PAGES, connections: int = 8, duration: int = 3,
            warmup: int = 1, repeats: int = 1, layout: CpuLayout | None = None,
            on_point: Callable[[dict], None] | None = None) -> pd.DataFrame:
    """For each table size (questions; each a data set seeded once): each page with Django's
    default indexes and with the index on score, interleaved within each repeat. Each row is
    a wrk point plus the page's query plan measured just before (``plan``, ``execution_ms``,
    ``buffers_hit``, ``buffers_read``, ``scan``). The stack's data set is put back after."""
    check_int("repeats", repeats, 1, 50)
    for size in sizes:
        check_int("sizes", size, 1_000, 2_000_000)
    for page in pages:
        if page not in PAGES:
            raise ValueError(f"pages must be among {', '.join(PAGES)}, not {page!r}")
    rows = []
    with _settings_restored(stack, "questions"):
        for size in sizes:
            stack.reconfigure(questions=size)
            sql = page_sql(stack, pages)
            for repeat in range(repeats):
                for k, (state, present) in enumerate(INDEX_STATES.items()):
                    with index_state(stack, present):
                        plans = explain(stack, sql)
                        for page in pages:
                            # the first state warms the table; the index is new, in memory
                            rec = wrk.point(stack, _page_url(stack, page), connections,
                                            duration, warmup if k == 0 else 0, layout,
                                            f"{page}, {state}", repeat)
                            rec.update(config=f"{size:,} questions", questions=size, page=page,
                                       index=state, index_present=present,
                                       **plans[page])
                            keep(rows, rec, on_point)
    return done(rows, on_point)


def index_gains(rows: pd.DataFrame) -> pd.DataFrame:
    """Per table size and page: server CPU per request and query time without and with the
    index, and their ratios (mean over repeats)."""
    m = rows.groupby(["questions", "page", "index_present"]).agg(
        cpu=("cpu_ms_per_req_server", "mean"), db=("cpu_ms_per_req_db", "mean"),
        req_s=("req_s", "mean"), query_ms=("execution_ms", "mean")).unstack("index_present")
    out = pd.DataFrame({
        "cpu_ms_without": m[("cpu", False)], "cpu_ms_with": m[("cpu", True)],
        "db_ms_without": m[("db", False)], "db_ms_with": m[("db", True)],
        "query_ms_without": m[("query_ms", False)], "query_ms_with": m[("query_ms", True)],
        "req_s_without": m[("req_s", False)], "req_s_with": m[("req_s", True)]})
    out["cpu_gain"] = out.cpu_ms_without / out.cpu_ms_with
    out["query_gain"] = out.query_ms_without / out.query_ms_with
    return out.reset_index()


def db_share_solution(gains: pd.DataFrame, page: str = "home") -> str:
    """Exercise 1's worked solution: the database's share of ``page``'s server CPU without
    the index at each table size (``index_gains``' rows), and whether it grew with the table
    (by a tenth or more from the smallest size to the largest), shrank, or held."""
    part = gains[gains.page == page].sort_values("questions")
    share = part.db_ms_without / part.cpu_ms_without
    if part.empty or share.isna().all():
        return f"This run measured no {page} page without the index: there is no share to give."
    said = ", ".join(f"{s:.0%} at {int(q):,} questions" for q, s in zip(part.questions, share))
    said = (f"Without the index the database's share of the {page} page's server CPU "
            f"(`db_ms_without ÷ cpu_ms_without`) was {said}. ")
    if len(part) == 1:
        return said + ("This run measured one table size, so it cannot say which way the share "
                       "moves: run Experiment 1 with more `sizes`.")
    first, last = share.iloc[0], share.iloc[-1]
    if last >= 1.1 * first:
        why = ("It grew with the table: the sequential scan and the sort grow with the rows, "
               "while the app's work (rendering 30 questions) stays the same.")
    elif last <= first / 1.1:
        why = ("It shrank as the table grew: the app's work grew faster than the database's, "
               "which the sequential scan alone would not do; look at the app's CPU per request "
               "in the table above.")
    else:
        why = ("It held within a tenth: at these sizes the scan is a small part of the query, and "
               "the app's work and the database's grew together.")
    return said + why


# --- 2. N+1 ---------------------------------------------------------------------------------
LIST_VARIANTS = {"naive (N+1)": "/d/home/naive/",
                 "select_related + prefetch_related": "/"}


def queries_per_request(url: str) -> int:
    """The SQL queries one request to ``url`` ran (the app's X-DB-Queries header)."""
    return int(http.get(url, timeout=10).check(url).headers["X-DB-Queries"])


@replayable
def n_plus_one(stack: Stack, connections: int = 8, duration: int = 3, warmup: int = 1,
               repeats: int = 1, layout: CpuLayout | None = None,
               on_point: Callable[[dict], None] | None = None) -> pd.DataFrame:
    """The home page written naively and with its related objects fetched in bulk, one wrk
    point each per repeat (interleaved), with the queries one request ran."""
    check_int("repeats", repeats, 1, 50)
    rows = []
    for repeat in range(repeats):
        for k, (name, path) in enumerate(LIST_VARIANTS.items()):
            url = stack.app_url + path
            queries = queries_per_request(url)
            rec = wrk.point(stack, url, connections, duration,
                            warmup if repeat == 0 and k == 0 else 0, layout, name, repeat)
            rec.update(queries_per_request=queries)
            keep(rows, rec, on_point)
    return done(rows, on_point)


# --- 3. connections -------------------------------------------------------------------------
CONNECTION_MODES = {
    "new connection per request": {"conn_max_age": 0},
    "persistent connections": {"conn_max_age": 60},
    "Django's connection pool": {"conn_max_age": 0, "db_pool": True},
    "PgBouncer (transaction mode)": {"conn_max_age": 0, "pooler": "pgbouncer"},
}
_CONNECTION_SETTINGS = ("conn_max_age", "db_pool", "pooler")


def _api_turn(stack: Stack, n: int = 8) -> tuple[str, ...]:
    """A turn of the JSON API on popular questions: cheap requests, where connecting shows."""
    return tuple(f"{stack.app_url}/api/questions/{q}/" for q in _popular(stack)["question_ids"][:n])


def _backends(stack: Stack, layout: CpuLayout | None) -> _Periodic:
    """Samples of the client connections PostgreSQL holds to the data set's database for the
    app (directly or through PgBouncer): the lab's own queries, such as the popularity a
    load generator reads as it starts, are left out."""
    return _sampler(stack, "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND "
                    "backend_type = 'client backend' AND application_name <> %s",
                    (stack.dataset.db_name, LAB_CLIENT), layout)


def modes_available(modes: dict | None = None) -> dict:
    """The connection modes this machine can run (PgBouncer's needs its binary)."""
    modes = CONNECTION_MODES if modes is None else modes
    return {k: v for k, v in modes.items()
            if not v.get("pooler") or binaries.available(v["pooler"])}


@replayable
def connection_modes(stack: Stack, modes: dict | None = None, connections: int = 8,
                     duration: int = 3, warmup: int = 1, repeats: int = 1,
                     layout: CpuLayout | None = None,
                     on_point: Callable[[dict], None] | None = None) -> pd.DataFrame:
    """The JSON API under each way of holding database connections (``modes``: name ->
    stack settings), interleaved within each repeat; the app restarts between modes. Adds
    the connections PostgreSQL held to the data set during the point (mean and peak)."""
    check_int("repeats", repeats, 1, 50)
    modes = modes_available(modes)
    for name, mode in modes.items():
        if not isinstance(mode, dict) or not set(mode) <= set(_CONNECTION_SETTINGS):
            raise ValueError(f"modes[{name!r}] must set only {', '.join(_CONNECTION_SETTINGS)}")
    full = {name: {"conn_max_age": 60, "db_pool": False, "pooler": None, **mode}
            for name, mode in modes.items()}
    rows = []
    with _settings_restored(stack, *_CONNECTION_SETTINGS):
        for repeat in range(repeats):
            for name in _current_first(stack, full):
                before = stack.config
                stack.reconfigure(**full[name])
                restarted = stack.config != before  # a running app is warm already
                with _backends(stack, layout) as held:
                    rec = wrk.point(stack, _api_turn(stack), connections, duration,
                                    warmup if restarted else 0, layout, name, repeat)
                rec.update(db_connections_mean=held.mean, db_connections_peak=held.peak,
                           **{k: stack.config[k] for k in _CONNECTION_SETTINGS})
                keep(rows, rec, on_point)
    return done(rows, on_point)


@replayable
def too_many_connections(stack: Stack, max_connections: int = 8, workers: int = 4,
                         threads: int = 8, connections: int = 32, duration: int = 3,
                         warmup: int = 1, layout: CpuLayout | None = None,
                         on_point: Callable[[dict], None] | None = None) -> pd.DataFrame:
    """More app connections than PostgreSQL allows: ``workers`` × ``threads`` gunicorn threads,
    each with a persistent connection, against ``max_connections``; directly, then through
    PgBouncer (its pool of 4 below the limit). One wrk point each: failures are the result."""
    check_int("max_connections", max_connections, 5, 1000)
    check_int("threads", threads, 1, 64)
    check_int("workers", workers, 1, 64)
    if workers * threads <= max_connections:
        raise ValueError(f"workers × threads ({workers * threads}) must exceed "
                         f"max_connections ({max_connections}) to show what happens")
    ways = {"direct": {"pooler": None}}
    if binaries.available("pgbouncer"):
        ways["through PgBouncer"] = {"pooler": "pgbouncer"}
    rows = []
    pg = {**stack.config["pg_settings"], "max_connections": max_connections}
    with _settings_restored(stack, "pg_settings", "workers", "worker_class", "threads",
                            *_CONNECTION_SETTINGS):
        for name, way in ways.items():
            stack.reconfigure(pg_settings=pg, workers=workers, worker_class="gthread",
                              threads=threads, conn_max_age=60, db_pool=False, **way)
            with _backends(stack, layout) as held:
                rec = wrk.point(stack, _api_turn(stack), connections, duration, warmup,
                                layout, name, 0)
            rec.update(max_connections=max_connections, app_threads=workers * threads,
                       db_connections_peak=held.peak)
            keep(rows, rec, on_point)
    return done(rows, on_point)


# --- 4. PostgreSQL's settings ---------------------------------------------------------------
def tuned_settings(memory_bytes: int | None = None) -> dict[str, str]:
    """The usual first tuning of PostgreSQL, from the machine's memory (the starting points of
    PostgreSQL's documentation and its wiki's "Tuning Your PostgreSQL Server"): shared_buffers
    a quarter of memory (at most 8 GB), effective_cache_size half, work_mem 16 MB,
    random_page_cost 1.1 (solid-state storage), fewer checkpoints under writes, and group
    commit (commit_delay with commit_siblings). Durability is untouched."""
    mem = memory_bytes if memory_bytes is not None else psutil.virtual_memory().total
    mb = mem // 2 ** 20
    return {"shared_buffers": f"{min(mb // 4, 8192)}MB",
            "effective_cache_size": f"{mb // 2}MB",
            "work_mem": "16MB",
            "random_page_cost": "1.1",
            "max_wal_size": "4GB",
            "checkpoint_timeout": "15min",
            "commit_delay": "200",
            "commit_siblings": "2"}


DEFAULT_SHARED_BUFFERS_MB = 128  # PostgreSQL's shared_buffers when nothing sets it
RISKY = {"synchronous_commit": "off"}  # a commit returns before its WAL is on disk


def pg_configs(memory_bytes: int | None = None) -> dict[str, dict]:
    """PostgreSQL's defaults, the tuned set, and the tuned set with the risky setting."""
    tuned = tuned_settings(memory_bytes)
    return {"defaults": {}, "tuned": tuned, "tuned + synchronous_commit=off": {**tuned, **RISKY}}


def settings_table(configs: dict[str, dict]) -> pd.DataFrame:
    """The configurations side by side, one row per setting ("default" where not set)."""
    names = list(dict.fromkeys(k for c in configs.values() for k in c))
    return pd.DataFrame({c: [str(v.get(n, "default")) for n in names]
                         for c, v in configs.items()}, index=names)


def show_settings(stack: Stack, names: Sequence[str]) -> dict[str, str]:
    """What the running PostgreSQL says each setting is (``SHOW``), in its own units."""
    return {n: stack.db.query(f"SHOW {n}")[0][0] for n in names}


def _read_turn(stack: Stack) -> tuple[str, ...]:
    pop, app = _popular(stack), stack.app_url
    return (app + "/", *(f"{app}/q/{q}/" for q in pop["question_ids"][:4]),
            f"{app}/tags/{pop['tags'][0]}/")


def _vote_urls(stack: Stack, way: str, qids: Sequence[int]) -> tuple[str, ...]:
    return tuple(f"{stack.app_url}/d/vote/{way}/{q}/" for q in qids)


@replayable
def settings_compared(stack: Stack, configs: dict | None = None, connections: int = 8,
                      duration: int = 3, warmup: int = 1, repeats: int = 1,
                      reads_for: Sequence[str] | None = None, questions: int | None = None,
                      layout: CpuLayout | None = None,
                      on_point: Callable[[dict], None] | None = None) -> pd.DataFrame:
    """Each PostgreSQL configuration (name -> settings; PostgreSQL restarts between them) on
    the read path (a turn of pages) and the write path (votes added in the database, on 64
    questions), interleaved within each repeat. ``reads_for``: the configurations whose read
    path is measured (default all). ``questions``: the table size to compare on (default the
    stack's own; a data set larger than the default shared buffers is what the settings are
    about); the stack's data set is put back after. Adds ``kind``, the settings asked,
    whether PostgreSQL showed each as applied, the size of the database, of the default shared
    buffers and of the machine's memory (MB)."""
    check_int("repeats", repeats, 1, 50)
    if questions is not None:
        check_int("questions", questions, 1_000, 2_000_000)
    configs = pg_configs() if configs is None else configs
    reads_for = list(configs) if reads_for is None else list(reads_for)
    rows = []
    with _settings_restored(stack, "pg_settings", "questions"):
        if questions is not None:
            stack.reconfigure(questions=questions)
        for repeat in range(repeats):
            for name in _current_first(stack, {k: {"pg_settings": v} for k, v in configs.items()}):
                settings = configs[name]
                before = stack.config
                stack.reconfigure(pg_settings=settings)
                restarted = stack.config != before
                shown = show_settings(stack, list(settings))
                size_mb = stack.db.query("SELECT pg_database_size(%s)", (stack.dataset.db_name,)
                                         )[0][0] / 2 ** 20
                applied = all(_same_setting(settings[k], shown[k]) for k in settings)
                turns = [("writes", _vote_urls(stack, "f", _popular(stack)["question_ids"]),
                          "POST")]
                if name in reads_for:
                    turns.insert(0, ("reads", _read_turn(stack), "GET"))
                for i, (kind, urls, method) in enumerate(turns):
                    # the first point after a restart warms the app and the database for both
                    rec = wrk.point(stack, urls, connections, duration,
                                    warmup if i == 0 and restarted else 0, layout,
                                    f"{kind}, {name}", repeat, method=method)
                    rec.update(config=name, kind=kind, settings=json.dumps(settings),
                               applied=applied, db_size_mb=size_mb,
                               questions=stack.config["questions"],
                               default_shared_buffers_mb=DEFAULT_SHARED_BUFFERS_MB,
                               memory_mb=psutil.virtual_memory().total / 2 ** 20)
                    keep(rows, rec, on_point)
    return done(rows, on_point)


def _same_setting(asked: str, shown: str) -> bool:
    """PostgreSQL shows sizes in its own units (8GB for 8192MB): compare in bytes then."""
    units = {"kB": 1024, "MB": 2 ** 20, "GB": 2 ** 30, "TB": 2 ** 40}

    def size(v: str):
        for u, f in units.items():
            if v.endswith(u) and v[:-len(u)].isdigit():
                return int(v[:-len(u)]) * f
        return None
    a, s = size(str(asked)), size(str(shown))
    if a is not None and s is not None:
        return a == s
    return str(asked) == str(shown)


@replayable
def crash_loses(stack: Stack, synchronous_commit: Sequence[str] = ("on", "off"),
                clients: int = 4, seconds: float = 2.0, crash_at: float = 1.0,
                on_point: Callable[[dict], None] | None = None) -> pd.DataFrame:
    """What a crash of PostgreSQL (every process killed at once) loses under each
    ``synchronous_commit``: clients vote (added in the database) as fast as they are
    answered; at ``crash_at`` s the database is killed and started again (crash recovery).
    Votes the app answered with success are compared with the votes the database holds after
    recovery: with ``off``, a commit is answered before its WAL reaches the disk."""
    check_int("clients", clients, 1, 64)
    if not 0 < crash_at < seconds <= 60:
        raise ValueError(f"crash_at must be between 0 and seconds (at most 60), not "
                         f"crash_at={crash_at!r}, seconds={seconds!r}")
    for mode in synchronous_commit:
        if mode not in ("on", "off"):
            raise ValueError(f"synchronous_commit must be 'on' or 'off', not {mode!r}")
    rows = []
    try:
        for mode in synchronous_commit:
            # a setting every session takes at once, no restart (ALTER SYSTEM and a reload)
            stack.db.set_runtime({"synchronous_commit": mode})
            rec = _crash_run(stack, clients, seconds, crash_at)
            rec.update(variant=f"synchronous_commit={mode}", synchronous_commit=mode,
                       limit=one_user_limit(0))
            keep(rows, rec, on_point)
    finally:
        if stack.run is not None and stack.db.running:
            stack.db.set_runtime({})
    return done(rows, on_point)


def _vote_count(stack: Stack, qids: Sequence[int]) -> int:
    return stack.db.query("SELECT count(*) FROM qa_vote WHERE question_id = ANY(%s)",
                          (list(qids),), dbname=stack.dataset.db_name)[0][0]


def _crash_run(stack: Stack, clients: int, seconds: float, crash_at: float) -> dict:
    qids = _popular(stack)["question_ids"][:clients]
    # recovery then replays only this run's WAL: its time is this run's, not earlier writes'
    stack.db.query("CHECKPOINT")

    def failure(out: under_failure.Outcomes) -> None:
        out.until(crash_at)
        stack.db.crash()
        out.note("answered_before_crash", out.total("POST", True))
        t1 = time.monotonic()
        stack.db.start()  # crash recovery replays the WAL that reached the disk
        out.note("recovery_s", time.monotonic() - t1)

    # each vote on a new connection; after a failed one (the database is down) a client tries
    # again a little later, as a client would
    out = under_failure.run(
        stack.app_url, lambda k, n: ("POST", f"/d/vote/f/{qids[k]}/"), failure,
        clients=clients, seconds=seconds, cpus=stack.layout.generator,
        counter=lambda: _vote_count(stack, qids), ok=lambda status: status == 200, timeout=5,
        keep_alive=False, pause_after_failure=0.1)
    ok = out.total("POST", True)
    return {"votes_answered": ok, "votes_failed": out.total("POST", False),
            "votes_counted": out.counted,
            "answered_before_crash": out.events["answered_before_crash"],
            "lost": max(0, ok - out.counted), "recovery_s": out.events["recovery_s"]}


def defaults_takeaway(verdict: str, gain: float, data_ratio: float,
                      crash: pd.DataFrame) -> str:
    """The takeaway on PostgreSQL's defaults, from C6's verdict (its label), its figures (the
    best tuned gain; the data ÷ the default buffers) and :func:`crash_loses`' rows (what
    ``synchronous_commit = off`` lost in the crash)."""
    size = (f"a table {figure_text(data_ratio)} the size of their buffers" if data_ratio > 1 else
            "a table that fitted in their buffers (the tuning had nothing to size)")
    if verdict.startswith("inconclusive"):
        said = (f"here the usual first tuning gave {figure_text(gain)} on {size}, too close to "
                f"{fmt(TUNING_WORTH, 3)}× to say over these repeats (C6's verdict)")
    elif verdict.startswith("holds"):
        said = (f"here the usual first tuning gave **{figure_text(gain)}** on {size}: worth "
                "changing them (C6's verdict)")
    else:
        said = (f"here they held their own (the usual first tuning gave {figure_text(gain)}) on "
                f"{size}, as long as it fitted in the machine's memory (C6's verdict)")
    k = crash.set_index("synchronous_commit")
    off, on = int(k.loc["off", "lost"]), int(k.loc["on", "lost"])
    trade = (f"`synchronous_commit = off`, which answers a commit before its WAL is written, "
             f"lost {off} acknowledged vote{'s' if off != 1 else ''} in a crash ({on} with "
             "`on`)." if off else
             "`synchronous_commit = off` lost no acknowledged vote in this crash, but it can: "
             "it answers a commit before its WAL is written.")
    return ("Check PostgreSQL's defaults against the usual first tuning on your own data "
            f"before changing them: {said}. {trade}")


def primary_takeaway(spread: pd.Series, plain_votes_s: float, appended_votes_s: float) -> str:
    """The takeaway on writes: which server's CPU a vote through the app cost more (``spread``:
    the cheapest safe way's means over 64 questions), and what appending ten votes an insert
    did to the primary's own rate (pgbench, one a transaction against appended)."""
    app, db = spread.cpu_ms_per_req_app, spread.cpu_ms_per_req_db
    through = (f"through the app, a vote cost the app {fmt(app)} ms of CPU against the "
               f"database's {fmt(db)} ms, so the app's core filled first" if app > db else
               f"through the app, a vote cost the database {fmt(db)} ms of CPU against the "
               f"app's {fmt(app)} ms, so the database was the first to fill")
    ratio = appended_votes_s / plain_votes_s if plain_votes_s > 0 else float("nan")
    batch = (f"appending ten votes an insert moved the primary's own line {fmt(ratio)}×"
             if ratio >= 1.1 else
             f"appending ten votes an insert did not move the primary's own line here "
             f"({fmt(ratio)}×)")
    return ("Measure the primary alone (pgbench) before deciding that writes are what limits "
            f"you: {through}, and {batch}.")


# --- 5. writes ------------------------------------------------------------------------------
WAYS = {"read-modify-write": "rmw", "F() expression": "f", "select_for_update": "locked",
        "append + roll-up": "append"}
TARGETS = {HOT: 1, SPREAD: 64}


def _score_and_votes(stack: Stack, qids: Sequence[int]) -> tuple[int, int]:
    """The questions' summed score and the votes recorded for them: the database's truth."""
    row = stack.db.query(
        "SELECT (SELECT coalesce(sum(score), 0) FROM qa_question WHERE id = ANY(%(q)s)), "
        "(SELECT count(*) FROM qa_vote WHERE question_id = ANY(%(q)s))",
        {"q": list(qids)}, dbname=stack.dataset.db_name)[0]
    return int(row[0]), int(row[1])


def _lock_waiters(stack: Stack, layout: CpuLayout) -> _Periodic:
    """Samples of the backends of the data set's database waiting for a lock."""
    return _sampler(stack, "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND "
                    "wait_event_type = 'Lock' AND application_name <> %s",
                    (stack.dataset.db_name, LAB_CLIENT), layout)


def roll_up(stack: Stack) -> int:
    """Run the app's roll-up of appended votes once; returns the votes it moved."""
    url = stack.app_url + "/d/rollup/"
    return int(json.loads(http.post(url, timeout=30).check(url).body)["rolled"])


@replayable
def write_ways(stack: Stack, ways: Sequence[str] | None = None,
               targets: Sequence[str] = tuple(TARGETS), connections: Sequence[int] = (1, 4),
               duration: int = 3, warmup: int = 0, repeats: int = 1,
               rollup_every_s: float = 1.0, layout: CpuLayout | None = None,
               on_point: Callable[[dict], None] | None = None) -> pd.DataFrame:
    """Votes done each way (``WAYS``) on one hot question or spread over 64, at each number of
    wrk connections, ways interleaved. Per point, besides wrk's figures: the votes the
    database recorded, the score it added, the updates lost (recorded − added: two votes read
    the same score and one overwrote the other), and the backends waiting on a lock (mean of
    samples every 100 ms). The append way's roll-up runs every ``rollup_every_s`` during the
    point and once after it, before counting."""
    check_int("repeats", repeats, 1, 50)
    ways = list(WAYS) if ways is None else list(ways)
    for way in ways:
        if way not in WAYS:
            raise ValueError(f"ways must be among {', '.join(WAYS)}, not {way!r}")
    for target in targets:
        if target not in TARGETS:
            raise ValueError(f"targets must be among {', '.join(TARGETS)}, not {target!r}")
    if not 0.1 <= rollup_every_s <= 60:
        raise ValueError(f"rollup_every_s must be from 0.1 to 60, not {rollup_every_s!r}")
    lay = layout or stack.layout
    rows = []
    roll_up(stack)  # nothing pending from an earlier run
    for repeat in range(repeats):
        for target in targets:
            qids = _popular(stack)["question_ids"][:TARGETS[target]]
            for conns in connections:
                check_int("connections", conns, 1, 1000)
                for way in ways:
                    slug = WAYS[way]
                    score0, votes0 = _score_and_votes(stack, qids)
                    # the append way's roll-up, as a periodic task would run it
                    rolls = _Periodic(lambda: roll_up(stack), lay.generator, rollup_every_s,
                                      wait_first=True) if slug == "append" \
                        else contextlib.nullcontext()
                    with rolls, _lock_waiters(stack, lay) as waits:
                        rec = wrk.point(stack, _vote_urls(stack, slug, qids), conns, duration,
                                        warmup, layout, way, repeat, method="POST")
                    if slug == "append":
                        roll_up(stack)
                    score1, votes1 = _score_and_votes(stack, qids)
                    recorded, added = votes1 - votes0, score1 - score0
                    rec.update(config=f"{target}, {conns} connections", way=way, target=target,
                               questions_voted=len(qids), votes_recorded=recorded,
                               score_added=added, lost_updates=recorded - added,
                               lost_share=(recorded - added) / recorded if recorded else np.nan,
                               lock_waiting_mean=waits.mean, lock_waiting_peak=waits.peak,
                               rollups=len(getattr(rolls, "values", ())))
                    keep(rows, rec, on_point)
    return done(rows, on_point)


@replayable
def primary_writes(stack: Stack, clients: int = 16, duration: int = 3, warmup: int = 1,
                   repeats: int = 1, batch: int = 10, layout: CpuLayout | None = None,
                   on_point: Callable[[dict], None] | None = None) -> pd.DataFrame:
    """The primary alone at full write speed: pgbench (``load.pgbench``) sends votes straight
    to PostgreSQL from ``clients`` connections, no app in the way, spread over 64 questions:
    one vote a transaction (a score updated, a vote inserted, a commit), then votes appended
    ``batch`` at a time; kinds interleaved per repeat. After the appended votes the roll-up
    adds them to the scores (``rolled_up`` votes in ``rollup_s`` seconds). At the end the data
    set is put back as it was (the votes removed, the scores restored): tens of thousands of
    votes would otherwise lift those questions to the top of every later home page."""
    check_int("repeats", repeats, 1, 50)
    rows: list[dict] = []
    roll_up(stack)
    with _votes_undone(stack):
        for repeat in range(repeats):
            for kind in pgbench.KINDS:
                rec = pgbench.point(stack, kind, clients, duration, warmup, layout, batch=batch,
                                    repeat=repeat)
                if kind == pgbench.APPENDED:
                    t0 = time.perf_counter()
                    rec["rolled_up"] = roll_up(stack)
                    rec["rollup_s"] = time.perf_counter() - t0
                keep(rows, rec, on_point)
    return done(rows, on_point)


@contextlib.contextmanager
def _votes_undone(stack: Stack) -> Iterator[None]:
    """Within the block votes may be added; afterwards (whatever happened) every vote added is
    removed and every score put back, so the data set is the one the next notebook expects."""
    db, name = stack.services["db"], stack.dataset.db_name
    last_vote = db.query("SELECT coalesce(max(id), 0) FROM qa_vote", dbname=name)[0][0]
    last_pending = db.query("SELECT coalesce(max(id), 0) FROM qa_pendingvote", dbname=name)[0][0]
    scores = db.query("SELECT id, score FROM qa_question", dbname=name)
    try:
        yield
    finally:
        with db.connect(name) as conn, conn.cursor() as cur:
            cur.execute("DELETE FROM qa_vote WHERE id > %s", (last_vote,))
            cur.execute("DELETE FROM qa_pendingvote WHERE id > %s", (last_pending,))
            cur.execute("CREATE TEMP TABLE scores_before (id int PRIMARY KEY, score int)")
            with cur.copy("COPY scores_before (id, score) FROM STDIN") as copy:
                for row in scores:
                    copy.write_row(row)
            cur.execute("UPDATE qa_question q SET score = b.score FROM scores_before b "
                        "WHERE q.id = b.id AND q.score <> b.score")
