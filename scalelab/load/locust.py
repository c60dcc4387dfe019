"""One Locust subprocess through a list of steps: its plan, its command, the poll loop that
hands over each finished step as a measured point, and a clean stop on Ctrl-C or SIGTERM.

Locust never runs inside the notebook's kernel (gevent's monkey-patching hangs kernels): it
runs as a subprocess pinned to the generator CPUs, with a load shape (``locustfiles/qa.py``)
that holds each step's user count in turn and writes per-second histograms.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
import pandas as pd

from scalelab.plumbing import paths
from scalelab.plumbing.cpus import CpuLayout, default_layout
from scalelab.measurement.cpu_sampler import CpuSampler, tree_rss_bytes
from scalelab.plumbing.processes import spawn, stop_group, wrap_command
from scalelab.plumbing.runs import Run
from scalelab.measurement.point import derive, start_sampler
from scalelab.measurement.target import Target
from scalelab.load.windows import FLUSH_LAG, Step, cut
from scalelab.load.workload import Workload


class Interrupted(KeyboardInterrupt):
    """Ctrl-C (Kernel > Interrupt) during a run: Locust was stopped and the finished points
    were handed over; the servers are still up."""

    def __init__(self, kept: int) -> None:
        super().__init__(f"{kept} finished point(s) were kept")


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived during a run: finished points were handed over, Locust stopped; the
    signal is sent again (with its former handler) once this leaves the run."""

    def __init__(self, kept: int) -> None:
        super().__init__(f"terminated by SIGTERM; {kept} finished point(s) were kept")


# --- reading what Locust wrote ----------------------------------------------------------
def read_jsonl(files: Iterable[Path]) -> list[dict]:
    """Every JSON line of the files; a missing file or a line cut by an interrupt is skipped."""
    rows = []
    for p in files:
        with contextlib.suppress(FileNotFoundError):
            for line in p.read_text().splitlines():
                if line.strip():
                    try:
                        rows.append(json.loads(line))
                    except ValueError:
                        pass
    return rows


def _read_history(csv_prefix: Path) -> pd.DataFrame | None:
    """Locust's own cumulative history, the Aggregated rows (read once per run)."""
    try:
        hist = pd.read_csv(Path(f"{csv_prefix}_stats_history.csv"))
    except (FileNotFoundError, pd.errors.EmptyDataError):
        return None
    return hist[hist["Name"] == "Aggregated"]


def run_end(out: Path, log: list[dict] | None = None) -> float | None:
    """When the run ended as planned (the locustfile's last record), or None."""
    log = read_jsonl([out / "steps.jsonl"]) if log is None else log
    return next((r["ended"] for r in log if "ended" in r), None)


def _history_requests(agg: pd.DataFrame | None, t0: int, t1: int) -> float:
    """Requests in [t0, t1) from Locust's own cumulative history (a cross-check); NaN while
    Locust has not yet written a row at or after t1 (it flushes that file every few seconds,
    so a point handed over while Locust runs may find it behind). Locust writes rows several
    times a second (the locustfile sets its interval), each stamped with its whole second;
    a second's first row is its count at that second's start. Its interval drifts, so now
    and then a second has no row: the count there is interpolated between its neighbours."""
    if agg is None or agg.empty or agg["Timestamp"].max() < t1:
        return math.nan
    last = agg.groupby("Timestamp")["Total Request Count"].min()
    times = [float(t) for t in last.index]
    return float(np.interp(t1, times, last.values, left=0)
                 - np.interp(t0, times, last.values, left=0))


@dataclass
class RunContext:
    """What the measured points of one Locust run are read with."""

    out: Path                      # the run's Locust folder (plan, steps, histograms)
    sampler: CpuSampler
    layout: CpuLayout
    warmup: float | Sequence[float]
    window: float | None
    think_s: float
    processes: int = 1
    rss: list[int] = field(default_factory=list)  # app tree's memory, latest reading
    on_step: Callable[[dict], None] | None = None
    records: list[dict] = field(default_factory=list)  # the points handed over so far

    @property
    def csv_prefix(self) -> Path:
        return self.out / "locust"

    def hand_over(self, complete_before: float | None) -> None:
        """Give every newly finished step to ``on_step`` at once: a run stopped later, even
        by SIGKILL, keeps it. The last call (``None``, Locust has ended) also completes the
        cross-check of points handed over before Locust's history had caught up."""
        if complete_before is None:
            history = _read_history(self.csv_prefix)
            for rec in self.records:
                if math.isnan(rec["locust_history_requests"]):
                    rec["locust_history_requests"] = _history_requests(
                        history, rec["window_start"], rec["window_end"])
        done = {r["step"] for r in self.records}
        for rec in measured_points(self, complete_before):
            if rec["step"] not in done:
                rec["locust_dir"] = paths.relative(self.out)
                self.records.append(rec)
                if self.on_step:
                    self.on_step(rec)


def measured_points(ctx: RunContext, complete_before: float | None = None) -> list[dict]:
    """One row per finished step: the generator's figures of its window (``windows.cut``),
    CPU and counters over the same seconds (``point.derive``), memory and cross-checks.

    ``complete_before`` (while Locust runs): only steps that ended before that time, whose
    every second the locustfile has written."""
    log = read_jsonl([ctx.out / "steps.jsonl"])
    steps = [Step.from_record(r) for r in log if "step" in r]
    ended = run_end(ctx.out, log)
    cells = read_jsonl(sorted(ctx.out.glob("hist-*.jsonl")))
    history = _read_history(ctx.csv_prefix)
    workers_rss = ctx.rss[1:] if len(ctx.rss) > 1 else ctx.rss
    records = []
    for w in cut(steps, cells, ctx.warmup, ctx.window, complete_before, ended):
        rec = {**w.figures(), "think_s": ctx.think_s}
        derive(rec, ctx.sampler.window(w.t0, w.t1), ctx.sampler.counters_window(w.t0, w.t1),
               ctx.layout, ctx.sampler.host_cores)
        rec["littles_law_users"] = rec["req_s"] * (rec["mean_ms"] / 1000 + rec["think_s"])
        rec["locust_history_requests"] = _history_requests(history, w.t0, w.t1)
        rec["app_rss_mb_per_worker"] = (sum(workers_rss) / len(workers_rss) / 2**20
                                        if workers_rss else math.nan)
        rec["app_rss_mb_total"] = sum(ctx.rss) / 2**20 if ctx.rss else math.nan
        rec["pages"] = json.dumps(w.pages, sort_keys=True)
        rec["generator_processes"] = ctx.processes
        records.append(rec)
    return records


# --- starting and stopping Locust -------------------------------------------------------
def _command(plan_path: Path, url: str, csv_prefix: Path, processes: int) -> list[str]:
    cmd = [sys.executable, "-m", "locust", "-f", str(paths.LOCUSTFILES / "qa.py"),
           "--headless", "--host", url, "--csv", str(csv_prefix), "--csv-full-history",
           "--only-summary", "--loglevel", "WARNING", "--exit-code-on-error", "0"]
    if processes > 1:
        cmd += ["--processes", str(processes)]
    return cmd


def write_plan(out: Path, target: Target, workload: Workload, steps: Sequence[tuple],
               variants: dict[str, Workload]) -> Path:
    """The locustfile's instructions: pages and mixes per variant, popularity, steps.

    Page names are namespaced by variant ("view:home"), so variants may reuse a name for
    different URLs; the plain workload (variant "") keeps its plain names."""
    def key(vname: str, page: str) -> str:
        return f"{vname}:{page}" if vname else page

    pages: dict = {}
    mixes: dict = {}
    for vname, wl in variants.items():
        known = wl.all_pages()
        mixes[vname] = {key(vname, p): w for p, w in wl.mix.items()}
        pages.update({key(vname, p): list(known[p]) for p in wl.mix})
    plan = {"out_dir": str(out), "pages": pages, "mixes": mixes,
            "think_time": list(workload._think), "zipf_s": workload.zipf_s,
            "question_ids": target.question_ids, "tags": target.tags,
            "steps": [[int(st[0]), float(st[1]), st[2] if len(st) > 2 else ""] for st in steps],
            "spawn_rate": max(100, max(int(st[0]) for st in steps))}
    plan_path = out / "plan.json"
    plan_path.write_text(json.dumps(plan))
    return plan_path


def _start(run: Run, target: Target, plan_path: Path, layout: CpuLayout,
           processes: int) -> subprocess.Popen:
    env = {**os.environ, **run.env(), "SCALELAB_PLAN": str(plan_path)}
    env.pop("MPLBACKEND", None)
    out = plan_path.parent
    command = wrap_command(_command(plan_path, target.url, out / "locust", processes),
                           cpus=layout.generator, deathsig="SIGTERM")
    return spawn(command, run.dir / "logs" / "locust.log", env=env, cwd=str(out))


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """Within the block, SIGTERM interrupts like Ctrl-C (main thread only: elsewhere signals
    cannot be caught). On leaving after a SIGTERM, the former handler is restored and the
    signal raised again, so the process still ends as it was asked to."""
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


def _progress(total: float, enabled: bool, desc: str):
    """A text progress bar, unless disabled (SCALELAB_PROGRESS=0, as unattended runs set it).

    Text, not a Jupyter widget: a saved notebook keeps it as text, where a widget would leave
    "model not found" behind once reopened."""
    if not enabled or os.environ.get("SCALELAB_PROGRESS", "1") == "0":
        return None
    from tqdm.std import tqdm

    return tqdm(total=total, desc=desc, unit="s", leave=False, file=sys.stderr,
                bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} s")


def _poll(proc: subprocess.Popen, total: float, ctx: RunContext, target: Target, bar,
          log: Path) -> str:
    """Wait for Locust to end, handing over finished steps every second and reading the app's
    memory; returns why it failed ('' if it did not). Stops it after ``total`` + 60 s."""
    start = time.time()
    deadline = start + total + 60
    next_handover = start + 1
    while proc.poll() is None:
        try:
            proc.wait(timeout=0.5)  # back at once when Locust ends
        except subprocess.TimeoutExpired:
            pass
        if bar is not None:
            bar.n = min(total, round(time.time() - start, 1))
            bar.refresh()
        if time.time() > deadline:
            stop_group(proc)
            return f"Locust did not finish within {total + 60:.0f} s; see {paths.relative(log)}"
        if target.app_pid:
            ctx.rss = tree_rss_bytes(target.app_pid) or ctx.rss  # at the end: after the load
        if time.time() >= next_handover:
            ctx.hand_over(time.time() - FLUSH_LAG)
            next_handover = time.time() + 1
    if proc.returncode not in (0, None):
        return f"Locust exited with code {proc.returncode}:\n{log.read_text()[-2000:]}"
    return ""


def run_locust(target: Target, workload: Workload, steps: Sequence[tuple],
               warmup: float | Sequence[float], window: float | None = None, processes: int = 1,
               layout: CpuLayout | None = None, progress: bool = True, label: str = "load",
               on_step: Callable[[dict], None] | None = None,
               variants: dict[str, Workload] | None = None) -> list[dict]:
    """Run one Locust process through ``steps``; return one measured dict per finished step.

    A step is ``(users, seconds)``, or ``(users, seconds, variant)`` to switch to the page mix
    of ``variants[variant]`` for that step (one Locust process only). ``warmup`` is seconds,
    or one number per step. Each finished step goes to ``on_step`` as soon as it is complete,
    so a run stopped later, even by SIGKILL, keeps it. On KeyboardInterrupt (or SIGTERM, as
    ``Terminated``), Locust is stopped, the finished steps are handed over and the interrupt
    is raised again.
    """
    layout = layout or target.layout or default_layout(processes)
    variants = {"": workload, **(variants or {})}
    if len(variants) > 1 and processes > 1:
        raise ValueError("steps with different page mixes need processes=1")
    run = Run.create(label)
    out = run.dir / "locust"
    out.mkdir()
    plan_path = write_plan(out, target, workload, steps, variants)
    log = run.dir / "logs" / "locust.log"
    total = sum(st[1] for st in steps)
    proc = _start(run, target, plan_path, layout, processes)
    sampler = start_sampler(target, layout, {**target.components, "generator": [proc.pid]})
    ctx = RunContext(out, sampler, layout, warmup, window, workload.mean_think_time, processes,
                     on_step=on_step)
    bar = _progress(total, progress, f"{label}: {len(steps)} step(s)")
    interrupted, failure = False, ""
    with _sigterm_as_interrupt() as terminated:
        try:
            failure = _poll(proc, total, ctx, target, bar, log)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            sampler.stop()
            if bar is not None:
                bar.close()
            if proc.poll() is None:
                stop_group(proc)
            run.close()
        ctx.hand_over(None)  # the steps that finished since the last hand-over
        records = sorted(ctx.records, key=lambda r: r["step"])
        if interrupted:
            raise Terminated(len(records)) if terminated() else Interrupted(len(records))
    if failure:
        raise RuntimeError(failure + (f"\n({len(records)} finished point(s) were kept)"
                                      if records else ""))
    return records
