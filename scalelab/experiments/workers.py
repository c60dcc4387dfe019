"""Worker counts (notebook 03): configurations to compare, measuring each on its own stack,
and the Universal Scalability Law.

The CPU split comes from the harness (``CpuLayout``): ``cores`` below means the CPUs the
servers get, so on a bigger machine the same notebook tries more workers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from scalelab.plumbing.checks import check_int, check_number
from scalelab.plumbing.cpus import CpuLayout, default_layout
from scalelab.plumbing.runs import label_of
from scalelab.plumbing.numbers import figure_text, fmt
from scalelab.load import Workload, compare
from scalelab.results.reference import replayable
from scalelab.results import done, finished, keep
from scalelab.servers.stack import Stack
from scalelab.verdicts.usl import UslFit, fit_usl, usl  # noqa: F401  (notebooks call them here)


@dataclass(frozen=True)
class Config:
    """One way to run the app: server, worker class, workers and threads."""

    label: str
    server: str = "gunicorn"
    worker_class: str = "sync"
    workers: int = 1
    threads: int = 1
    recipe: str = ""  # a named rule of thumb this configuration follows, if any

    @property
    def slots(self) -> int:
        """Requests that can be in progress at once (async: unbounded, shown as 0)."""
        return 0 if self.server == "uvicorn" else self.workers * self.threads


def configurations(cores: int, mode: str = "quick",
                   thread_counts: Sequence[int] | None = None,
                   sync_counts: Sequence[int] | None = None) -> list[Config]:
    """Sync workers from 1 to 4 x cores (``sync_counts``, else by mode), gthread threads up
    to 8 (``thread_counts``, else by mode), ASGI workers, and the two named recipes:
    (2 x cores) + 1 sync workers (gunicorn's docs), cores workers x 4 gthread threads
    (TechEmpower's Django entry)."""
    if cores < 1:
        raise ValueError(f"cores must be 1 or more, not {cores}")
    if mode not in ("quick", "full", "reference"):  # the reference was recorded in full mode
        raise ValueError(f"mode must be 'quick', 'full' or 'reference', not {mode!r}")
    gunicorn_rule = 2 * cores + 1
    if sync_counts is None:
        sync_counts = ({1, 2, gunicorn_rule, 4 * cores} if mode == "quick"
                       else set(range(1, 4 * cores + 1)) | {gunicorn_rule})
    for n in sync_counts:
        check_int("sync_counts", n, 1, 64)
    if 1 not in sync_counts:
        raise ValueError(f"sync_counts must include 1 (the gains are against one sync "
                         f"worker), not {sorted(sync_counts)}")
    sync_counts = sorted(set(sync_counts))
    if thread_counts is None:
        thread_counts = [4, 8] if mode == "quick" else [2, 4, 8]
    for t in thread_counts:
        check_int("thread_counts", t, 1, 64)
    out = [Config(f"sync ×{n}", workers=n,
                  recipe="(2 x cores) + 1" if n == gunicorn_rule else "") for n in sync_counts]
    out += [Config(f"gthread {cores}×{t}", worker_class="gthread", workers=cores, threads=t,
                   recipe="cores x 4 threads" if t == 4 else "") for t in thread_counts]
    asgi_counts = [cores] if mode == "quick" else sorted({cores, 2 * cores})
    out += [Config(f"asgi ×{n}", server="uvicorn", workers=n) for n in asgi_counts]
    return out


def endpoints(stack: Stack, config: Config, wait_ms: int) -> dict[str, Workload]:
    """The CPU-bound page and the IO-bound page, addressed to the app. Under ASGI the IO-bound
    page is the async view, and the blocking view runs beside it as "io-bound (sync view)":
    the common mistake of serving ordinary Django views from an ASGI server."""
    app = stack.app_url
    page = lambda name, path: Workload(name, mix={"p": 1}, pages={"p": ("GET", app + path)})  # noqa: E731
    out = {"cpu-bound": page("cpu-bound", "/w/cpu/")}
    if config.server == "uvicorn":
        out["io-bound"] = page("io-bound", f"/w/io-async/?ms={wait_ms}")
        out["io-bound (sync view)"] = page("io-bound (sync view)", f"/w/io/?ms={wait_ms}")
    else:
        out["io-bound"] = page("io-bound", f"/w/io/?ms={wait_ms}")
    return out


def ceilings(row, users: int, server_cpus: int = 1) -> dict[str, float]:
    """What could have limited an IO-bound point, in requests/s: the closed loop (users ÷
    response time floor, the wait), the request slots (slots ÷ wait; none under ASGI), and the
    server CPUs (server CPUs ÷ the measured CPU-seconds per request)."""
    wait_s = row["wait_ms"] / 1000
    out = {"users ÷ wait": users / wait_s}
    if row.get("slots"):
        out["slots ÷ wait"] = row["slots"] / wait_s
    cost_s = row["cpu_ms_per_req_server"] / 1000
    if cost_s > 0:
        out["server CPU ÷ cost"] = server_cpus / cost_s
    return out


def limiting(row, users: int, server_cpus: int = 1) -> tuple[str, float]:
    """The lowest ceiling, and the measured throughput ÷ that ceiling."""
    c = ceilings(row, users, server_cpus)
    name = min(c, key=c.get)
    return name, row["req_s"] / c[name]


SAME_THROUGHPUT = 1.25  # a gain under this is "no more throughput": a window's noise and the
# little that overlapping a page's own database waits buys on one core


def cpu_takeaway(gain: float, memory_ratio: float, workers: int, cores: int) -> str:
    """The takeaway on workers beyond the cores for CPU-bound pages, from C19's "CPU-bound
    gain" (the most sync workers ÷ one) and what they cost in memory (total ÷ one worker's)."""
    served = (f"{workers} sync workers on {cores} core{'s' if cores > 1 else ''} served "
              f"{figure_text(gain)} what one did, at {fmt(memory_ratio)}× its memory")
    if gain < SAME_THROUGHPUT:
        return f"On CPU-bound pages, workers beyond the cores added memory, not throughput: {served}."
    return (f"On CPU-bound pages, {served}: more than the cores explain. What else moved it is "
            "not measured here (a worker waiting on the database while another computes is a "
            "candidate).")


def ceiling_solution(io: pd.DataFrame, users: int, server_cpus: int = 1) -> str:
    """Exercise 1's worked solution: the IO-bound endpoint's ceilings (``ceilings``) for the
    gthread configuration with the most threads in ``io`` (the mean rows per configuration
    and endpoint), the lowest of them, and how close the measured rate came to it."""
    rows = io[(io.variant == "io-bound") & io.config.str.startswith("gthread")]
    if rows.empty:
        return "This run measured no gthread configuration: there is no ceiling to compute."
    row = rows.loc[rows.slots.idxmax()]
    found = ceilings(row, users, server_cpus)
    name, share = limiting(row, users, server_cpus)
    listed = ", ".join(f"{k} = {fmt(v, 3)} req/s" for k, v in found.items())
    return (f"For **{row.config}** ({int(row.slots)} slots, a wait of {row.wait_ms:g} ms, "
            f"{users} users): {listed}. The lowest, *{name}*, is the prediction: "
            f"{fmt(found[name], 3)} req/s. It served {fmt(row.req_s, 3)} req/s, "
            f"**{share:.0%}** of it"
            + (": within a tenth, so the ceilings' arithmetic predicts the rate." if share >= 0.9
               else ": more than a tenth below, so something the ceilings leave out also held "
                    "it back; the point's `limit` column says what."))


@replayable
def measure(configs: Sequence[Config], users: int = 32, duration: int = 5, warmup: int = 2,
            repeats: int = 1, wait_ms: int = 50, questions: int = 2_000,
            layout: CpuLayout | None = None, on_point: Callable[[dict], None] | None = None,
            progress: bool = True) -> pd.DataFrame:
    """Start a stack per configuration and measure both endpoints on it (interleaved).

    Returns one row per (configuration, endpoint, repeat) with the configuration's columns."""
    rows = []
    layout = layout or default_layout()
    for config in configs:
        with Stack(server=config.server, worker_class=config.worker_class,
                   workers=config.workers, threads=config.threads, questions=questions,
                   upstream=True, layout=layout, label="workers") as stack:
            def with_config(rec, config=config):
                rec.update(_columns(config, wait_ms))
                if on_point:
                    on_point(rec)
            df = compare(stack, endpoints(stack, config, wait_ms), users=users,
                         duration=duration, warmup=warmup, repeats=repeats, on_point=with_config,
                         progress=progress, label=label_of(f"workers-{config.label}"))
            rows.append(df)
    finished(on_point)
    return pd.concat(rows, ignore_index=True)


def _columns(config: Config, wait_ms: int) -> dict:
    """A configuration's columns on each of its rows."""
    return dict(config=config.label, server=config.server,
                worker_class=config.worker_class if config.server == "gunicorn" else "asgi",
                workers=config.workers, threads=config.threads, slots=config.slots,
                recipe=config.recipe, wait_ms=wait_ms)


def recommend(throughput: pd.DataFrame, memory_mb: pd.Series, within: float = 0.95) -> str:
    """The configuration to recommend: among those whose score is at least ``within`` of the
    best, the one with the least memory. The score is the geometric mean of a configuration's
    throughput on each endpoint (columns of ``throughput``, one row per configuration), each
    relative to the best on that endpoint."""
    if not 0 < within <= 1:
        raise ValueError(f"within must be a share above 0 and at most 1, not {within!r}")
    norm = throughput / throughput.max()
    score = np.exp(np.log(norm).mean(axis=1))
    near = score[score >= within * score.max()].index
    return str(memory_mb.loc[near].idxmin())


# Tails at one offered rate: the IO-bound page under open arrivals at a share of the sync
# recipe's ceiling (its slots ÷ wait), the same rate for each worker class's recipe
TAIL_SHARE = 0.8


def tail_rate(cores: int, wait_ms: int, share: float = TAIL_SHARE) -> float:
    """The offered rate of :func:`tails`, requests/s: ``share`` of what the sync recipe's
    (2 × cores) + 1 slots can serve of a page that waits ``wait_ms``. Stated from the design,
    before any data."""
    check_int("cores", cores, 1, 256)
    check_int("wait_ms", wait_ms, 1, 10_000)
    check_number("share", share, 0, 2, low_open=True)
    return share * (2 * cores + 1) * 1000 / wait_ms


def recipes(configs: Sequence[Config]) -> list[Config]:
    """One configuration per worker class (sync, gthread, ASGI), in that order: the class's
    named recipe, else its configuration with the most workers (ASGI: the fewest)."""
    out = []
    for kind in ("sync", "gthread", "asgi"):
        part = [c for c in configs
                if (c.server == "uvicorn" if kind == "asgi" else
                    c.server == "gunicorn" and c.worker_class == kind)]
        if part:
            named = [c for c in part if c.recipe]
            out.append(named[0] if named else (min(part, key=lambda c: c.workers)
                                               if kind == "asgi" else
                                               max(part, key=lambda c: c.slots)))
    return out


@replayable
def tails(configs: Sequence[Config], rate: float, duration: int = 5, warmup: int = 1,
          repeats: int = 1, wait_ms: int = 50, questions: int = 2_000,
          layout: CpuLayout | None = None,
          on_point: Callable[[dict], None] | None = None) -> pd.DataFrame:
    """Each configuration's IO-bound page (its ``endpoints``' "io-bound") under open arrivals
    at the same ``rate`` (:func:`tail_rate`): a stack per configuration, the repeats on it in
    turn. One row per (configuration, repeat), with the configuration's columns."""
    from scalelab.load import open_rate

    check_int("repeats", repeats, 1, 50)
    if not configs:
        raise ValueError("configs must name at least one configuration")
    layout = layout or default_layout()
    rows: list[dict] = []
    for config in configs:
        with Stack(server=config.server, worker_class=config.worker_class,
                   workers=config.workers, threads=config.threads, questions=questions,
                   upstream=True, layout=layout, label="workers-tails") as stack:
            url = endpoints(stack, config, wait_ms)["io-bound"].pages["p"][1]
            for repeat in range(repeats):
                rec = open_rate.point(stack, url, rate, duration, warmup, layout,
                                      variant=config.label, repeat=repeat, seed=1 + repeat)
                rec.update(_columns(config, wait_ms), slot_utilisation=(
                    rate * wait_ms / 1000 / config.slots if config.slots else 0.0))
                keep(rows, rec, on_point)
    return done(rows, on_point)


def tail_summary(rows: pd.DataFrame) -> pd.DataFrame:
    """Per configuration (medians over repeats): the rate offered and served, the share of
    its request slots the rate fills (rate × wait ÷ slots), p50, p99, p99 ÷ the page's wait,
    and the latencies the p99 rests on."""
    from scalelab.measurement import percentiles

    g = rows.assign(n=percentiles.samples(rows)).groupby("config", sort=False)
    out = g.agg(offered=("offered_rate", "median"), served=("req_s", "median"),
                slot_utilisation=("slot_utilisation", "median"), p50_ms=("p50_ms", "median"),
                p99_ms=("p99_ms", "median"), p99_low=("p99_ms", "min"),
                p99_high=("p99_ms", "max"), latencies=("n", "min"),
                wait_ms=("wait_ms", "first"), slots=("slots", "first"))
    out["p99 ÷ wait"] = out.p99_ms / out.wait_ms
    return out.reset_index()


LITTLE_TOLERANCE = 0.2  # a mean within this share of users ÷ throughput − think time


def closed_latency(rows: pd.DataFrame) -> dict:
    """What a closed load's latency is (Experiment 2): each row's mean response time over
    the one Little's law gives a closed loop (users ÷ throughput − think time), its lowest
    and highest, and the sentence that fits them. Within ``LITTLE_TOLERANCE`` of 1 in every
    row, the users and the throughput set the latency, not the configuration."""
    need = {"users", "req_s", "mean_ms"}
    if rows.empty or not need <= set(rows):
        raise ValueError(f"rows must be measured closed-load points with {sorted(need)}")
    think = rows["think_s"].fillna(0) if "think_s" in rows else 0.0
    ratio = rows.mean_ms / ((rows.users / rows.req_s - think) * 1000)
    low, high = float(ratio.min()), float(ratio.max())
    if abs(low - 1) <= LITTLE_TOLERANCE and abs(high - 1) <= LITTLE_TOLERANCE:
        sentence = ("Little's law, not the worker class, sets a closed load's latency: its "
                    "p99 is the tail of that queue, not a measure of the configuration.")
    else:
        sentence = ("Here the means strayed from what Little's law gives a closed loop by "
                    f"more than {LITTLE_TOLERANCE:.0%}: a window where the generator, not "
                    "the users, set the pace; read its latencies with care.")
    return {"low": low, "high": high, "sentence": sentence}
