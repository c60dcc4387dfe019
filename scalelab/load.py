"""Load: Locust in a subprocess, measured windows, one tidy row per measured point.

    wl = Workload("home", mix={"home": 1})
    df = sweep(stack, wl, users=[1, 2, 4, 8], duration=10, warmup=3, repeats=3)

Locust never runs inside the notebook's kernel (gevent's monkey-patching hangs kernels): it runs
as a subprocess pinned to the generator CPUs, with a load shape that holds each user count in
turn. A point's figures come from its window only (warm-up thrown away): requests, failures and
latency percentiles from per-second histograms the locustfile writes; CPU time of every server
process tree and of the generator from :class:`~scalelab.measure.CpuSampler`.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import math
import os
import signal
import subprocess
import sys
import time
import urllib.parse
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import pandas as pd

from . import paths, validity
from .cpus import CpuLayout, default_layout
from .measure import CpuSampler, tree_rss_bytes
from .runs import Run
from .services.base import launcher, wrap_command

PAGES: dict[str, tuple[str, str]] = {
    "home": ("GET", "/"),
    "question": ("GET", "/q/{qid}/"),
    "tag": ("GET", "/tags/{tag}/"),
    "api": ("GET", "/api/questions/{qid}/"),
    "health": ("GET", "/health/"),
    "static": ("GET", "/static/qa/site.css"),
    "vote": ("POST", "/api/questions/{qid}/vote/"),
}
COMPONENTS = ("app", "db", "cache", "proxy", "upstream")


@dataclass
class Workload:
    """What the simulated users do: which pages, in what mix, with what pause in between.

    mix: page name -> weight (see ``PAGES``). think_time: seconds a user waits between
    requests, a number or a (min, max) range; 0 is a closed loop at full speed. zipf_s: the
    exponent of the Zipf law by which questions and tags are picked (0 = uniform).
    """

    name: str = "home"
    mix: dict[str, float] = field(default_factory=lambda: {"home": 1.0})
    think_time: float | tuple[float, float] = 0.0
    zipf_s: float = 1.0
    pages: dict[str, tuple[str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"name must be a non-empty string, not {self.name!r}")
        if not isinstance(self.pages, dict):
            raise ValueError(f"pages must be a dict of name -> (method, path), not "
                             f"{type(self.pages).__name__}")
        for page, spec in self.pages.items():
            if not (isinstance(spec, (tuple, list)) and len(spec) == 2
                    and spec[0] in ("GET", "POST") and isinstance(spec[1], str)):
                raise ValueError(f"pages[{page!r}] must be (method, path), method GET or POST, "
                                 f"path like '/q/{{qid}}/' (or an absolute loopback URL)")
            _check_template(page, spec[1])
            if spec[1].startswith(("http://", "https://")):
                _check_page_url(page, spec[1])
            elif not spec[1].startswith("/"):
                raise ValueError(f"pages[{page!r}] path must start with / or http://")
        known = {**PAGES, **self.pages}
        if not isinstance(self.mix, dict) or not self.mix:
            raise ValueError(f"mix must be a non-empty dict of page -> weight; pages: "
                             f"{', '.join(known)}")
        unknown = set(self.mix) - set(known)
        if unknown:
            raise ValueError(f"mix has unknown page(s) {sorted(unknown)}; pages: "
                             f"{', '.join(known)}")
        if any(isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w)
               or w < 0 for w in self.mix.values()) or sum(self.mix.values()) <= 0:
            raise ValueError(f"mix weights must be finite numbers >= 0 with a positive sum, "
                             f"not {self.mix!r}")
        tt = self.think_time
        if isinstance(tt, bool) or not (isinstance(tt, (int, float)) or (
                isinstance(tt, (tuple, list)) and len(tt) == 2
                and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in tt))):
            raise ValueError(f"think_time must be seconds from 0 to 3600, or a (min, max) "
                             f"range within that, not {tt!r}")
        lo, hi = (tt, tt) if isinstance(tt, (int, float)) else tuple(tt)
        if not (0 <= lo <= hi <= 3600):
            raise ValueError(f"think_time must be seconds from 0 to 3600, or a (min, max) "
                             f"range within that, not {tt!r}")
        self._think = (float(lo), float(hi))
        if isinstance(self.zipf_s, bool) or not isinstance(self.zipf_s, (int, float)) \
                or not 0 <= self.zipf_s <= 5:
            raise ValueError(f"zipf_s must be from 0 (uniform) to 5, not {self.zipf_s!r}")

    @property
    def mean_think_time(self) -> float:
        return sum(self._think) / 2

    def all_pages(self) -> dict[str, tuple[str, str]]:
        return {**PAGES, **{k: tuple(v) for k, v in self.pages.items()}}

    def describe(self) -> dict:
        d = asdict(self)
        d["think_time"] = list(self._think)
        return d


# --- targets ---------------------------------------------------------------------------
@dataclass
class Target:
    """Where the load goes, and what can be measured there."""

    url: str
    components: dict[str, list[int]]  # server process trees by component (empty if remote)
    app_pid: int | None = None
    question_ids: list[int] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    layout: CpuLayout | None = None
    counters: dict = field(default_factory=dict)  # name -> callable: cumulative server counters


TEMPLATE_FIELDS = ("qid", "tag")  # what the locustfile fills into a page's path


def _check_template(page: str, path: str) -> None:
    """Only {qid} and {tag} may stand in a path: anything else would fail every request."""
    import string

    try:
        fields = {f for _, f, spec, conv in string.Formatter().parse(path) if f is not None}
    except ValueError as exc:
        raise ValueError(f"pages[{page!r}]: {path!r} is not a valid template ({exc})") from None
    unknown = fields - set(TEMPLATE_FIELDS)
    if unknown:
        raise ValueError(f"pages[{page!r}]: unknown field(s) {sorted(unknown)} in {path!r}; "
                         f"a path may use {{qid}} and {{tag}} only")


def _check_page_url(page: str, url: str) -> None:
    """An absolute page URL is checked as it will be sent: no template and no user info in
    its host part (``http://127.0.0.1{tag}@elsewhere/`` would send every request elsewhere)."""
    netloc = urllib.parse.urlsplit(url.replace("{", "%7B").replace("}", "%7D")).netloc
    if "%7B" in netloc or "%7D" in netloc or "@" in netloc:
        raise ValueError(f"pages[{page!r}]: the host part of {url!r} may not contain a "
                         "template field or user info ('@'); only the path may vary")
    for sample in (url.format(qid=1, tag="t"), url):
        if "{" not in sample:
            _check_url(sample)
            break


def _check_url(url: str) -> str:
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ValueError(f"target must be a Stack or an http(s) URL, not {url!r}")
    host = parsed.hostname
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback and os.environ.get("SCALELAB_ALLOW_REMOTE_TARGET") != "1":
        raise ValueError(
            f"target {url!r} is not on this machine; load tests target loopback unless you set "
            "SCALELAB_ALLOW_REMOTE_TARGET=1 for a deployment you own (see README, 'Load from "
            "several machines')")
    return url.rstrip("/")


def as_target(target, questions: int | None = None) -> Target:
    """A Stack, or an external URL (then pass ``questions`` to pick ids 1..questions)."""
    if isinstance(target, Target):
        return target
    if questions is not None and (isinstance(questions, bool) or not isinstance(questions, int)
                                  or questions < 1):
        raise ValueError(f"questions must be a whole number of 1 or more, not {questions!r}")
    if isinstance(target, str):
        url = _check_url(target)
        n = questions or 1000
        return Target(url, {}, None, list(range(1, n + 1)), [])
    # a Stack (duck-typed to avoid an import cycle)
    if not all(hasattr(target, a) for a in ("popularity", "base_url", "component_pids")):
        raise ValueError(f"target must be a Stack or an http(s) URL on this machine, not "
                         f"{type(target).__name__}")
    pop = target.popularity()
    return Target(target.base_url, target.component_pids(), target.app.pid,
                  pop["question_ids"], pop["tags"], target.layout, target.counters())


# --- running Locust --------------------------------------------------------------------
def _locust_command(plan_path: Path, url: str, csv_prefix: Path, processes: int) -> list[str]:
    cmd = [sys.executable, "-m", "locust", "-f", str(paths.LOCUSTFILES / "qa.py"),
           "--headless", "--host", url, "--csv", str(csv_prefix), "--csv-full-history",
           "--only-summary", "--loglevel", "WARNING", "--exit-code-on-error", "0"]
    if processes > 1:
        cmd += ["--processes", str(processes)]
    return cmd


def _read_jsonl(paths_: Iterable[Path]) -> list[dict]:
    rows = []
    for p in paths_:
        with contextlib.suppress(FileNotFoundError):
            for line in p.read_text().splitlines():
                if line.strip():
                    try:
                        rows.append(json.loads(line))
                    except ValueError:
                        pass  # a line cut by an interrupt
    return rows


def percentile(hist: dict[int, int], q: float) -> float:
    total = sum(hist.values())
    if total == 0:
        return math.nan
    need = q * total
    acc = 0
    for value in sorted(hist):
        acc += hist[value]
        if acc >= need:
            return float(value)
    return float(max(hist))


def _read_history(csv_prefix: Path) -> pd.DataFrame | None:
    """Locust's own cumulative history, the Aggregated rows (read once per run)."""
    try:
        hist = pd.read_csv(Path(f"{csv_prefix}_stats_history.csv"))
    except (FileNotFoundError, pd.errors.EmptyDataError):
        return None
    return hist[hist["Name"] == "Aggregated"]


def _history_requests(agg: pd.DataFrame | None, t0: int, t1: int) -> float:
    """Requests in [t0, t1) from Locust's own cumulative history (a cross-check)."""
    if agg is None:
        return math.nan

    def count_at(t):
        rows = agg[agg["Timestamp"] <= t]
        return rows["Total Request Count"].iloc[-1] if len(rows) else 0

    return float(count_at(t1) - count_at(t0))


@dataclass
class _Step:
    index: int
    users: int
    started: float
    scheduled_end: float
    variant: str = ""


def run_locust(target: Target, workload: Workload, steps: Sequence[tuple],
               warmup: float | Sequence[float], window: float | None = None, processes: int = 1,
               layout: CpuLayout | None = None, progress: bool = True, label: str = "load",
               on_step: Callable[[dict], None] | None = None,
               variants: dict[str, Workload] | None = None) -> list[dict]:
    """Run one Locust process through ``steps``; return one measured dict per finished step.

    A step is ``(users, seconds)``, or ``(users, seconds, variant)`` to switch to the page mix
    of ``variants[variant]`` for that step (one Locust process only). ``warmup`` is seconds,
    or one number per step. On KeyboardInterrupt,
    Locust is stopped, the finished steps are handed to ``on_step`` and the interrupt is
    raised again.
    """
    layout = layout or target.layout or default_layout(processes)
    variants = dict(variants or {})
    variants.setdefault("", workload)
    if len(variants) > 1 and processes > 1:
        raise ValueError("steps with different page mixes need processes=1")
    # Page names are namespaced by variant ("view:home"), so variants may reuse a name for
    # different URLs; the plain workload keeps its plain names.
    def key(vname: str, page: str) -> str:
        return f"{vname}:{page}" if vname else page

    pages: dict = {}
    mixes: dict = {}
    for vname, wl in variants.items():
        known = wl.all_pages()
        mixes[vname] = {key(vname, p): w for p, w in wl.mix.items()}
        pages.update({key(vname, p): list(known[p]) for p in wl.mix})
    run = Run.create(label)
    out = run.dir / "locust"
    out.mkdir()
    plan = {"out_dir": str(out), "pages": pages, "mixes": mixes,
            "think_time": list(workload._think), "zipf_s": workload.zipf_s,
            "question_ids": target.question_ids, "tags": target.tags,
            "steps": [[int(st[0]), float(st[1]), st[2] if len(st) > 2 else ""] for st in steps],
            "spawn_rate": max(100, max(int(st[0]) for st in steps))}
    plan_path = out / "plan.json"
    plan_path.write_text(json.dumps(plan))
    csv_prefix = out / "locust"
    env = dict(os.environ)
    env.update(run.env())
    env["SCALELAB_PLAN"] = str(plan_path)
    env.pop("MPLBACKEND", None)
    command = wrap_command(_locust_command(plan_path, target.url, csv_prefix, processes),
                           cpus=layout.generator, deathsig="SIGTERM")
    log = open(run.dir / "logs" / "locust.log", "w")
    total = sum(st[1] for st in steps)
    proc: subprocess.Popen = launcher().call(lambda: subprocess.Popen(
        command, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        cwd=str(out), start_new_session=True))
    roots = dict(target.components)
    roots["generator"] = [proc.pid]
    sampler = start_sampler(target, layout, roots)
    bar = _progress(total, progress, f"{label}: {len(steps)} step(s)")
    interrupted = False
    failure = ""
    rss: list[int] = []
    records: list[dict] = []

    def hand_over(complete_before: float | None) -> None:
        """Give every newly finished step to on_step at once: a run stopped later, even by
        SIGKILL, keeps it."""
        done = {r["step"] for r in records}
        for rec in _windows(out, csv_prefix, sampler, layout, warmup, window, workload, rss,
                            processes, complete_before):
            if rec["step"] not in done:
                rec["locust_dir"] = paths.relative(out)
                records.append(rec)
                if on_step:
                    on_step(rec)

    with _sigterm_as_interrupt() as terminated:
        try:
            deadline = time.time() + total + 60
            next_handover = time.time() + 1
            while proc.poll() is None:
                time.sleep(0.5)
                if bar is not None:
                    bar.n = min(total, round(time.time() - (deadline - total - 60), 1))
                    bar.refresh()
                if time.time() > deadline:
                    _stop_group(proc)
                    failure = (f"Locust did not finish within {total + 60:.0f} s; see "
                               f"{paths.relative(run.dir / 'logs' / 'locust.log')}")
                    break
                if target.app_pid:
                    rss = tree_rss_bytes(target.app_pid) or rss  # at the end: after the load
                if time.time() >= next_handover:
                    hand_over(time.time() - FLUSH_LAG)
                    next_handover = time.time() + 1
        except KeyboardInterrupt:
            interrupted = True
            _stop_group(proc)
        finally:
            sampler.stop()
            if bar is not None:
                bar.close()
            log.close()
            if proc.poll() is None:
                _stop_group(proc)
            run.close()
        if not failure and not interrupted and proc.returncode not in (0, None):
            tail = (run.dir / "logs" / "locust.log").read_text()[-2000:]
            failure = f"Locust exited with code {proc.returncode}:\n{tail}"

        # The steps that finished since the last hand-over, even when the run was cut short.
        hand_over(None)
        records.sort(key=lambda r: r["step"])
        if interrupted:
            if terminated():
                raise Terminated(len(records))
            raise KeyboardInterrupt
    if failure:
        raise RuntimeError(failure + (f"\n({len(records)} finished point(s) were kept)"
                                      if records else ""))
    return records


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived during a run: finished points were handed over, Locust stopped; the
    signal is sent again (with its former handler) once this leaves the run."""

    def __init__(self, kept: int) -> None:
        super().__init__(f"terminated by SIGTERM; {kept} finished point(s) were kept")


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """Within the block, SIGTERM interrupts like Ctrl-C (main thread only: elsewhere signals
    cannot be caught). On leaving after a SIGTERM, the former handler is restored and the
    signal raised again, so the process still ends as it was asked to."""
    import threading

    got = {"term": False}
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return

    def on_term(signum, frame):
        got["term"] = True
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        yield lambda: got["term"]
    finally:
        signal.signal(signal.SIGTERM, previous)
        if got["term"]:
            signal.raise_signal(signal.SIGTERM)


def _stop_group(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def _progress(total: float, enabled: bool, desc: str):
    """A progress bar, unless disabled (SCALELAB_PROGRESS=0, as unattended runs set it)."""
    if not enabled or os.environ.get("SCALELAB_PROGRESS", "1") == "0":
        return None
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from tqdm.auto import tqdm
    return tqdm(total=total, desc=desc, unit="s", leave=False,
                bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} s")


FLUSH_LAG = 2.5  # seconds after which the locustfile has written every request of a second


def _windows(out: Path, csv_prefix: Path, sampler: CpuSampler, layout: CpuLayout,
             warmup: float | Sequence[float], window: float | None, workload: Workload, rss: list[int],
             processes: int, complete_before: float | None = None) -> list[dict]:
    """Cut each step into its measured window: whole seconds from the end of the warm-up.

    ``complete_before`` (while Locust runs): only steps that ended before that time, whose
    every second the locustfile has written."""
    steps = [_Step(r["step"], r["users"], r["t"], r["scheduled_end"], r.get("variant", ""))
             for r in _read_jsonl([out / "steps.jsonl"])]
    cells = _read_jsonl(sorted(out.glob("hist-*.jsonl")))
    history = _read_history(csv_prefix)
    last_data = max((c["t"] for c in cells), default=0)
    records = []
    for step in steps:
        if complete_before is not None and step.scheduled_end > complete_before:
            continue
        step_warmup = warmup[step.index] if isinstance(warmup, (list, tuple)) else warmup
        t0 = math.ceil(step.started + step_warmup)
        t1 = math.floor(min(step.scheduled_end, last_data + 1))
        if window is not None:
            t1 = min(t1, t0 + int(window))
        if t1 - t0 < 1:
            continue  # not finished (interrupted) or window too short
        if step.scheduled_end > last_data + 1.5:
            continue  # the run stopped before this step's end: not a finished point
        inside = [c for c in cells if t0 <= c["t"] < t1]
        n = sum(c["n"] for c in inside)
        fails = sum(c["fail"] for c in inside)
        rt_sum = sum(c["sum"] for c in inside)
        hist: dict[int, int] = defaultdict(int)
        pages: dict[str, int] = defaultdict(int)
        for c in inside:
            pages[c["name"]] += c["n"]
            for k, v in c["h"].items():
                hist[int(k)] += v
        seconds = t1 - t0
        rec = {
            "step": step.index,
            "users": step.users,
            "duration_s": seconds,
            "requests": n,
            "failures": fails,
            "req_s": n / seconds,
            "fail_ratio": fails / n if n else math.nan,
            "mean_ms": rt_sum / n if n else math.nan,
            "p50_ms": percentile(hist, 0.50),
            "p90_ms": percentile(hist, 0.90),
            "p99_ms": percentile(hist, 0.99),
            "max_ms": float(max(hist)) if hist else math.nan,
            "think_s": workload.mean_think_time,
        }
        derive(rec, sampler.window(t0, t1), sampler.counters_window(t0, t1), layout)
        # Little's law from the generator's own figures: an identity, shown to teach
        rec["littles_law_users"] = rec["req_s"] * (rec["mean_ms"] / 1000 + rec["think_s"])
        rec["locust_history_requests"] = _history_requests(history, t0, t1)
        workers_rss = rss[1:] if len(rss) > 1 else rss
        rec["app_rss_mb_per_worker"] = (sum(workers_rss) / len(workers_rss) / 2**20
                                        if workers_rss else math.nan)
        rec["app_rss_mb_total"] = sum(rss) / 2**20 if rss else math.nan
        rec["pages"] = json.dumps(dict(pages), sort_keys=True)
        rec["window_start"] = t0
        rec["window_end"] = t1
        rec["generator_processes"] = processes
        records.append(rec)
    return records


def start_sampler(target: Target, layout: CpuLayout,
                  roots: dict[str, list[int]] | None = None) -> CpuSampler:
    """Sample what a point's figures come from: the server process trees (and any extra
    ``roots``), the busy time of the server and generator CPUs, the servers' counters."""
    return CpuSampler(dict(roots if roots is not None else target.components),
                      cpu_sets={"generator": layout.generator, "server": layout.server},
                      counters=dict(target.counters)).start()


def derive(rec: dict, cpu: dict[str, float], counters: dict[str, float],
           layout: CpuLayout) -> dict:
    """Add a window's derived figures to ``rec`` (which has requests, duration_s, req_s,
    fail_ratio): CPU-ms per request by component, server and generator load, hit ratios from
    any ``*_hits``/``*_misses`` counter pair, statements per request, and what limited it."""
    n, seconds = rec["requests"], rec["duration_s"]
    for comp in COMPONENTS:
        rec[f"cpu_ms_per_req_{comp}"] = (cpu[comp] * 1000 / n if comp in cpu and n
                                         else (0.0 if n else math.nan))
    server_cpu_s = sum(cpu.get(c, 0.0) for c in COMPONENTS)
    rec["cpu_ms_per_req_server"] = server_cpu_s * 1000 / n if n else math.nan
    rec["server_cpu_util"] = server_cpu_s / seconds / len(layout.server)
    # busy share of the server CPUs by anything (servers, kernel, harness): a gap to
    # server_cpu_util means something else ran there
    rec["server_cpus_busy"] = cpu.get("cpuset_server", math.nan) / seconds / len(layout.server)
    gen_s = cpu.get("generator", math.nan)
    rec["generator_cpu_ms_per_req"] = gen_s * 1000 / n if n else math.nan
    rec["locust_cpu_load"] = gen_s / seconds / len(layout.generator)
    # the generator's load is its whole CPU set: the generator, the harness and the kernel's
    # network work all compete for it (falls back to the generator's tree if unreadable)
    set_s = cpu.get("cpuset_generator", math.nan)
    rec["generator_load"] = (set_s if not math.isnan(set_s) else gen_s) / seconds \
        / len(layout.generator)
    for key, value in counters.items():
        rec[key] = value
    for key in counters:
        if key.endswith("_hits") and key[:-5] + "_misses" in counters:
            h, m = counters[key], counters[key[:-5] + "_misses"]
            rec[f"{key[:-5]}_hit_ratio"] = h / (h + m) if h + m > 0 else math.nan
    if "db_statements" in counters and n:
        rec["db_statements_per_req"] = counters["db_statements"] / n
    rec.update(validity.flags(rec))
    return rec


# --- the public API --------------------------------------------------------------------
def _check_workload(workload) -> None:
    if not isinstance(workload, Workload):
        raise ValueError(f"workload must be a Workload (e.g. Workload('home')), not "
                         f"{type(workload).__name__}")


def _check_points(users: Sequence[int], duration: float, warmup: float, repeats: int,
                  processes: int) -> None:
    if not isinstance(users, (list, tuple)):
        raise ValueError(f"users must be a list of whole numbers from 1 to 10000, like "
                         f"[1, 2, 4], not {users!r}")
    if not users or any(isinstance(u, bool) or not isinstance(u, int) or not 1 <= u <= 10_000
                        for u in users):
        raise ValueError(f"users must be whole numbers from 1 to 10000, not {list(users)!r}")
    if isinstance(duration, bool) or not isinstance(duration, int) or not 1 <= duration <= 3600:
        raise ValueError(f"duration must be whole seconds from 1 to 3600, not {duration!r}")
    if not (isinstance(warmup, (int, float)) and 0 <= warmup <= 600):
        raise ValueError(f"warmup must be seconds from 0 to 600, not {warmup!r}")
    if isinstance(repeats, bool) or not isinstance(repeats, int) or not 1 <= repeats <= 50:
        raise ValueError(f"repeats must be a whole number from 1 to 50, not {repeats!r}")
    if isinstance(processes, bool) or not isinstance(processes, int) or \
            not 1 <= processes <= (os.cpu_count() or 1) * 2:
        raise ValueError(f"processes must be a whole number from 1 to "
                         f"{(os.cpu_count() or 1) * 2}, not {processes!r}")


def sweep(target, workload: Workload | None = None, users: Sequence[int] = (1, 2, 4, 8),
          duration: float = 10, warmup: float = 3, repeats: int = 1, processes: int = 1,
          questions: int | None = None, progress: bool = True,
          on_point: Callable[[dict], None] | None = None, variant: str = "",
          layout: CpuLayout | None = None) -> pd.DataFrame:
    """Measure each user count for ``duration`` seconds after ``warmup`` seconds.

    One Locust process per repeat holds each user count in turn (no start-up per point);
    repeats run the whole list again (1 2 4 8 1 2 4 8 ...), so drift spreads over every
    point. ``on_point`` gets each finished row as it is measured (to save it at once).
    """
    workload = workload or Workload()
    _check_workload(workload)
    _check_points(users, duration, warmup, repeats, processes)
    users = list(users)
    tgt = as_target(target, questions)
    rows: list[dict] = []

    def keep(rec: dict, repeat: int) -> None:
        rec.update(repeat=repeat, workload=workload.name, variant=variant,
                   target=tgt.url if not tgt.components else "stack")
        rows.append(rec)
        if on_point:
            on_point(rec)

    for repeat in range(repeats):
        # one spare second a step, so the window holds `duration` whole seconds
        run_locust(tgt, workload, [(u, warmup + duration + 1) for u in users], warmup,
                   window=duration,
                   processes=processes, layout=layout, progress=progress,
                   label=f"sweep-r{repeat}", on_step=lambda rec, r=repeat: keep(rec, r))
    df = _frame(rows)
    _warn_failures(df)
    return df


def run(target, workload: Workload | None = None, users: int = 4, duration: float = 10,
        warmup: float = 3, processes: int = 1, questions: int | None = None,
        progress: bool = True, variant: str = "", layout: CpuLayout | None = None
        ) -> pd.DataFrame:
    """One measured point: ``users`` simulated users for ``duration`` s after ``warmup`` s."""
    return sweep(target, workload, [users], duration, warmup, 1, processes, questions,
                 progress, variant=variant, layout=layout)


def compare(target, variants: dict[str, Workload], users: int = 4, duration: float = 10,
            warmup: float | dict[str, float] = 3, repeats: int = 1, questions: int | None = None,
            progress: bool = True, on_point: Callable[[dict], None] | None = None,
            layout: CpuLayout | None = None, label: str = "compare") -> pd.DataFrame:
    """Measure several variants (page mixes) at the same load, interleaved: A B C A B C ...

    One Locust process runs every window in turn, so drift of a shared machine spreads over
    every variant instead of favouring one. Variants must share think time and Zipf exponent.
    ``warmup`` is seconds, or a dict giving each variant its own (a cache with a TTL needs one
    TTL to reach its steady state; its uncached baseline does not).
    """
    if not isinstance(variants, dict) or not variants:
        raise ValueError("variants must be a non-empty dict of name -> Workload")
    for name, wl in variants.items():
        if not isinstance(wl, Workload):
            raise ValueError(f"variants[{name!r}] must be a Workload, not {type(wl).__name__}")
    first = next(iter(variants.values()))
    if any(wl._think != first._think or wl.zipf_s != first.zipf_s for wl in variants.values()):
        raise ValueError("variants must share think_time and zipf_s (only the mix may differ)")
    if isinstance(warmup, dict):
        if set(warmup) != set(variants):
            raise ValueError(f"warmup as a dict must name every variant: "
                             f"{sorted(variants)}, not {sorted(warmup)}")
        warmups = dict(warmup)
    else:
        warmups = {name: warmup for name in variants}
    for w in warmups.values():
        _check_points([users], duration, w, repeats, 1)
    tgt = as_target(target, questions)
    plan = [(repeat, name) for repeat in range(repeats) for name in variants]
    steps = [(users, warmups[name] + duration + 1, name) for _, name in plan]
    step_warmups = [warmups[name] for _, name in plan]
    rows: list[dict] = []

    def keep(rec: dict) -> None:
        repeat, name = plan[rec["step"]]
        rec.update(repeat=repeat, variant=name, workload=variants[name].name,
                   target=tgt.url if not tgt.components else "stack")
        rows.append(rec)
        if on_point:
            on_point(rec)

    run_locust(tgt, first, steps, step_warmups, window=duration, layout=layout, progress=progress,
               label=label, on_step=keep, variants=variants)
    df = _frame(rows)
    _warn_failures(df)
    return df


FAILURE_WARNING = 0.01  # a point where more requests failed than this is reported


def _warn_failures(df: pd.DataFrame) -> None:
    """Say it loudly when requests failed: a failing page can look fast."""
    if df.empty or "fail_ratio" not in df:
        return
    bad = df[df["fail_ratio"] > FAILURE_WARNING]
    if len(bad):
        import warnings

        where = ", ".join(f"{r.get('variant') or r['users']} users={r['users']}: "
                          f"{r['fail_ratio']:.0%}" for _, r in bad.iterrows())
        warnings.warn(f"requests failed at {len(bad)} point(s) ({where}); their figures "
                      f"measure errors, not pages. See the Locust log in each row's locust_dir.",
                      stacklevel=3)


FIRST_COLUMNS = ["variant", "workload", "repeat", "users", "req_s", "limit", "p50_ms", "p90_ms",
                 "p99_ms", "mean_ms", "failures", "requests", "duration_s"]


def _frame(rows: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    cols = [c for c in FIRST_COLUMNS if c in df.columns]
    return df[cols + [c for c in df.columns if c not in cols]]
