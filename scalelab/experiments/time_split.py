"""Where a request's time goes (notebook 08): CPU per request by component and a sampling
profile of the app's Python, the same page with its layers swapped, and the floor (a request
that does nothing) against the best cache-hit path.

One stack: the app under gunicorn on PostgreSQL with Django's local-memory cache (for the
per-view cached page; its hits cost the app alone), persistent connections.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd

from scalelab.plumbing import interpreters
from scalelab.measurement import profiler
from scalelab.load import wrk
from scalelab.plumbing.checks import check_int
from scalelab.plumbing.cpus import CpuLayout
from scalelab.plumbing.numbers import fmt
from scalelab.results.reference import replayable
from scalelab.results import done, keep
from scalelab.servers.stack import Stack
from scalelab.verdicts.rules.time_split import AS_WRITTEN, BOTH_SWAPPED

WORKERS = 2


def start_stack(questions: int = 10_000, workers: int = WORKERS,
                layout: CpuLayout | None = None, label: str = "08") -> Stack:
    return Stack(questions=questions, workers=workers, cache="locmem", layout=layout,
                 label=label).start()


def stop(stack: Stack) -> None:
    stack.stop()


def _top_question(stack: Stack) -> int:
    return stack.db.query("SELECT id FROM qa_question ORDER BY view_count DESC, id LIMIT 1",
                          dbname=stack.dataset.db_name)[0][0]


# --- 1. a request, taken apart ----------------------------------------------------------------
def pages(stack: Stack) -> dict[str, str]:
    """The uncached home page and the same page from Django's per-view cache."""
    return {"uncached home page": stack.app_url + "/",
            "cached home page": stack.app_url + "/c/view/"}


@replayable
def profiles(stack: Stack, targets: dict[str, str] | None = None, seconds: int = 3,
             rate: int = 100, connections: int = 8, layout: CpuLayout | None = None,
             on_point: Callable[[dict], None] | None = None) -> pd.DataFrame:
    """For each page (name -> URL): wrk loads it while py-spy samples the app's workers for
    ``seconds``. One row per distinct stack: ``page``, ``stack`` (frames joined by ';',
    outermost first) and ``samples``."""
    check_int("seconds", seconds, 1, 600)
    targets = pages(stack) if targets is None else targets
    lay = layout or stack.layout
    rows = []
    for name, url in targets.items():
        with wrk.background(url, connections, seconds + 2, lay, "wrk-profiled.log",
                            label="profiled-load"):
            prof = profiler.record(stack, seconds, rate, lay)
        for frames, n in zip(prof.stacks.frames, prof.stacks.samples):
            keep(rows, {"page": name, "stack": ";".join(frames), "samples": int(n),
                        "seconds": seconds, "rate": rate}, on_point)
    return done(rows, on_point)


def profile_of(rows: pd.DataFrame, page: str) -> profiler.Profile:
    """The :class:`profiler.Profile` of one page from ``profiles``' rows."""
    part = rows[rows.page == page]
    if part.empty:
        raise ValueError(f"page must be one of {sorted(set(rows.page))}, not {page!r}")
    stacks = pd.DataFrame({"frames": [tuple(s.split(";")) for s in part["stack"]],
                           "samples": part["samples"].astype(int).values})
    return profiler.Profile(stacks, float(part.seconds.iloc[0]), int(part.rate.iloc[0]))


def cache_hit_solution(rows: pd.DataFrame, page: str = "cached home page") -> str:
    """Exercise 2's worked solution: the layers of ``page``'s profile (``profiles``' rows),
    largest first, and whether a cache hit's time went where the floor's does (the path
    around the view) or still into rendering or queries."""
    if page not in set(rows.page):
        return f"This run did not profile the {page}: there are no layers to give."
    shares = profile_of(rows, page).layer_shares().sort_values("share", ascending=False)
    shares = shares[shares.samples > 0]
    if shares.empty:
        return f"The profile of the {page} holds no sample: rerun it for longer."
    listed = ", ".join(f"{r.layer} {r.share:.0%}" for r in shares.head(3).itertuples())
    said = f"In this run's profile of the {page}: {listed}. "
    top = shares.layer.iloc[0]
    if top.startswith(("templates", "ORM", "database driver")):
        return said + (f"A hit should render nothing and query nothing, yet *{top}* leads: "
                       "look for what the cached view still does on every request.")
    return said + (f"*{top}* leads: a cache hit renders nothing and queries nothing, so what "
                   "remains is the framework's path around the view and the server, which is "
                   "what the floor measures.")


def layer_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Each page's samples by layer (share of its samples), pages as columns."""
    return pd.DataFrame({page: profile_of(rows, page).layer_shares().set_index("layer").share
                         for page in dict.fromkeys(rows.page)})


# --- 2. swap a layer, keep the page -------------------------------------------------------
def swaps(stack: Stack) -> dict[str, str]:
    """The home page as written and with its layers swapped; the question API through Django
    and as a plain WSGI function."""
    app, qid = stack.app_url, _top_question(stack)
    return {AS_WRITTEN: app + "/",
            "raw SQL + Django templates": app + "/l/home/raw/",
            "ORM + Jinja2": app + "/l/home/jinja/",
            BOTH_SWAPPED: app + "/l/home/raw-jinja/",
            "JSON API, Django": f"{app}/api/questions/{qid}/",
            "JSON API, plain WSGI": f"{app}/bare/api/questions/{qid}/"}


MINIMAL = f"{AS_WRITTEN}, minimal middleware"


@replayable
def layer_swaps(stack: Stack, connections: int = 8, duration: int = 3, warmup: int = 1,
                repeats: int = 1, layout: CpuLayout | None = None,
                on_point: Callable[[dict], None] | None = None) -> pd.DataFrame:
    """Every variant of ``swaps`` and the page as written under an app with only the
    middleware it needs (``Stack(middleware="minimal")``, restarted for it), one wrk point
    each, interleaved within each repeat."""
    check_int("repeats", repeats, 1, 50)
    rows = []
    try:
        for repeat in range(repeats):
            stack.reconfigure(middleware="full")
            for name, url in swaps(stack).items():
                rec = wrk.point(stack, url, connections, duration, warmup, layout, name, repeat)
                keep(rows, rec, on_point)
            stack.reconfigure(middleware="minimal")
            rec = wrk.point(stack, stack.app_url + "/", connections, duration, warmup, layout,
                            MINIMAL, repeat)
            keep(rows, rec, on_point)
    finally:
        if stack.run is not None:
            stack.reconfigure(middleware="full")
    return done(rows, on_point)


def gains(rows: pd.DataFrame, baseline: str = AS_WRITTEN,
          api_baseline: str = "JSON API, Django") -> pd.DataFrame:
    """Per variant: server CPU and app CPU per request (mean over repeats) and the gain over
    its baseline (the page as written, or the API through Django)."""
    m = rows.groupby("variant", sort=False)[["cpu_ms_per_req_server", "cpu_ms_per_req_app",
                                             "cpu_ms_per_req_db", "req_s"]].mean()
    base = {v: (api_baseline if v.startswith("JSON API") else baseline) for v in m.index}
    m["gain"] = [m.loc[base[v], "cpu_ms_per_req_server"] / m.loc[v, "cpu_ms_per_req_server"]
                 for v in m.index]
    return m


def beside_design(swap_rows: pd.DataFrame, floor_rows: pd.DataFrame) -> pd.DataFrame:
    """The gains of swapping framework layers (this run) beside those of the database fixes
    (07's reference run: the index at its largest table, the N+1 fix) and of the per-view
    cache (this run): server CPU per request before ÷ after, each within its own run."""
    from scalelab.results import load_reference

    g = gains(swap_rows)
    out = [("swap the ORM for raw SQL", g.loc["raw SQL + Django templates", "gain"], "this run"),
           ("swap Django's templates for Jinja2", g.loc["ORM + Jinja2", "gain"], "this run"),
           ("swap both", g.loc[BOTH_SWAPPED, "gain"], "this run"),
           ("only the middleware the page needs", g.loc[MINIMAL, "gain"], "this run")]
    f = floor_rows.groupby("variant").cpu_ms_per_req_server.mean()
    out.append(("cache the page (per-view cache)",
                f["uncached home page"] / f["cached home page"], "this run"))
    try:
        ix = load_reference("07-database-design", "indexes")
        home = ix[(ix.page == "home") & (ix.questions == ix.questions.max())]
        by = home.groupby("index_present").cpu_ms_per_req_server.mean()
        out.append((f"add the missing index ({int(home.questions.iloc[0]):,} questions)",
                    by[False] / by[True], "07's reference run"))
        n1 = load_reference("07-database-design", "n-plus-one")
        by = n1.groupby("variant").cpu_ms_per_req_server.mean()
        out.append(("fix the N+1 queries", by["naive (N+1)"]
                    / by["select_related + prefetch_related"], "07's reference run"))
    except FileNotFoundError:
        pass
    return pd.DataFrame(out, columns=["change", "gain", "measured in"]).set_index("change")


# --- 3. the floor -------------------------------------------------------------------------
def floor_targets(stack: Stack) -> dict[str, str]:
    app = stack.app_url
    return {"health check (no database)": app + "/health/",
            "health check + SELECT 1": app + "/health/?db=1",
            "cached home page": app + "/c/view/",
            "uncached home page": app + "/"}


def floor_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Per request kind: server CPU per request, and how many times the floor's it is."""
    m = rows.groupby("variant", sort=False)[["cpu_ms_per_req_server", "cpu_ms_per_req_app",
                                             "cpu_ms_per_req_db", "req_s"]].mean()
    m["times the floor"] = m.cpu_ms_per_req_server / m.cpu_ms_per_req_server.iloc[0]
    return m.replace([np.inf, -np.inf], np.nan)


def cache_or_swap_solution(floor_rows: pd.DataFrame, swap_rows: pd.DataFrame) -> str:
    """Exercise 1's worked solution: how many times cheaper the cached page (``floor``) is
    than the page with both layers swapped, beside the swap's own gain over the page as
    written (``gains``), and which of the two buys more."""
    f = floor_rows.groupby("variant").cpu_ms_per_req_server.mean()
    g = gains(swap_rows)
    if "cached home page" not in f or BOTH_SWAPPED not in g.index:
        return "This run lacks the cached page or the swapped page: there is no ratio to give."
    swapped, cached = g.loc[BOTH_SWAPPED, "cpu_ms_per_req_server"], f["cached home page"]
    cheaper, swap_gain = swapped / cached, g.loc[BOTH_SWAPPED, "gain"]
    said = (f"{BOTH_SWAPPED} cost {fmt(swapped, 3)} ms of server CPU a request and the cached "
            f"page {fmt(cached, 3)} ms: the cached page is **{fmt(cheaper)} times cheaper**, "
            f"against the swap's own gain of {fmt(swap_gain)}× over the page as written. ")
    if cheaper > swap_gain:
        return said + ("Caching wins: it skips the ORM, the templates and the database "
                       "altogether, while a layer swap still does all the page's work, faster.")
    return said + ("Here the swap bought more than the cache would on top of it: the cached "
                   "page's own cost (Django's request cycle and the cache round trip) is no "
                   "longer small next to the swapped page's.")


def python_share(rows: pd.DataFrame, variant: str = "uncached home page") -> float:
    """The app server's share of a request's server CPU (its Python, running, not waiting)."""
    part = rows[rows.variant == variant]
    return float(part.cpu_ms_per_req_app.mean() / part.cpu_ms_per_req_server.mean())


def cost_takeaway(python_share: float, layers: pd.Series) -> str:
    """The takeaway on where a page's server CPU went: the app's Python share of it
    (:func:`python_share`; "mostly" from over half) and its largest layer in the profile
    (``layer_table``'s column for the page; "most of that" from over half)."""
    top = layers.idxmax()
    whose = (f"mostly the app's Python ({python_share:.0%})" if python_share > 0.5 else
             f"not mostly the app's Python ({python_share:.0%}): the database's share was larger")
    layer = (f"no single layer of it was most of that: the largest, {top}, had {layers[top]:.0%}"
             if layers[top] <= 0.5 else
             f"one layer, {top}, was most of that ({layers[top]:.0%}): the one to look at first")
    return f"This page's server CPU was {whose}; {layer}."


def floor_takeaway(floor_ms: float, page_ms: float, cached_ms: float) -> str:
    """The takeaway on the framework's floor (a request that does nothing) and the cached page,
    against the uncached page's server CPU: the floor a small part of it under a quarter, and
    caching removing nearly all of it from nine tenths up."""
    floor, saved = floor_ms / page_ms, 1 - cached_ms / page_ms
    said = (f"The framework's floor (a request that does nothing) was {floor:.0%} of the page's "
            "server CPU: " + ("a small part; the rest is Django's layers doing the page's "
                              "work, in the shares the profile shows" if floor < 0.25 else
                              "not a small part here: a lighter stack would show on this page"))
    cache = (f"caching the page removed nearly all of it ({saved:.0%}) without replacing "
             "anything" if saved >= 0.9 else
             f"caching the page removed {saved:.0%} of it without replacing anything")
    return f"{said}. Replacing a layer saves at most what that layer costs; {cache} ([02](02-caching.ipynb))."


# --- 4. the interpreter -----------------------------------------------------------------
@replayable
def interpreters_compared(stack: Stack, connections: int = 8, duration: int = 3,
                          warmup: int = 1, repeats: int = 1, layout: CpuLayout | None = None,
                          on_point: Callable[[dict], None] | None = None) -> pd.DataFrame:
    """The home page and the question API on the lab's Python and on the newest other
    interpreter whose app venv is built (``scalelab.plumbing.interpreters``), interleaved; the app
    restarts between them. With no other interpreter, only the lab's own rows (column
    ``interpreter``)."""
    check_int("repeats", repeats, 1, 50)
    others = interpreters.ready()[:1]
    variants = {interpreters.own().name + " (the lab's)": ""}
    variants.update({it.name: str(it.app_python) for it in others})
    qid = _top_question(stack)
    rows = []
    try:
        for repeat in range(repeats):
            for name, python in variants.items():
                stack.reconfigure(python=python)
                for k, (page, path) in enumerate((("home page", "/"),
                                                  ("question API", f"/api/questions/{qid}/"))):
                    rec = wrk.point(stack, stack.app_url + path, connections, duration,
                                    warmup if k == 0 else 0, layout, f"{page}, {name}", repeat)
                    rec.update(config=name, interpreter=name, page=page)
                    keep(rows, rec, on_point)
    finally:
        if stack.run is not None:
            stack.reconfigure(python="")
    return done(rows, on_point)
