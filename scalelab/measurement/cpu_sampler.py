"""CPU time of whole process trees, sampled in the background, read out per window.

The CPU time of a tree is the sum, over its live processes, of user + system time plus the
user + system time of children they have already reaped. So a PostgreSQL backend or a
gunicorn worker that exits during a window still counts: its time moves into its parent's
``children_*`` counters. A window's CPU is the difference of the cumulative counter at its two
ends (interpolated between samples taken every ``interval`` seconds).
"""

from __future__ import annotations

import bisect
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import psutil


def tree_cpu_seconds(pid: int) -> float:
    """Cumulative CPU seconds (user + system, children included) of a process tree."""
    try:
        root = psutil.Process(pid)
        procs = [root] + root.children(recursive=True)
    except psutil.Error:
        return float("nan")
    total = 0.0
    for proc in procs:
        try:
            t = proc.cpu_times()
        except psutil.Error:
            continue  # exited between listing and reading: its parent's children_* count it
        total += t.user + t.system + t.children_user + t.children_system
    return total


def cpu_set_busy_seconds(cpus) -> float:
    """Cumulative busy seconds of a set of CPUs, whatever runs on them (from /proc/stat).

    Busy is everything but idle and iowait. This is how the generator's load is measured:
    not only Locust's processes but the harness, the kernel's network work and anything else
    scheduled on the generator's CPUs compete with Locust for them.
    """
    per_cpu = psutil.cpu_times(percpu=True)
    total = 0.0
    for cpu in cpus:
        if cpu >= len(per_cpu):
            return float("nan")
        t = per_cpu[cpu]
        total += sum(t) - t.idle - getattr(t, "iowait", 0.0) \
            - getattr(t, "guest", 0.0) - getattr(t, "guest_nice", 0.0)
    return total


class StillBusy(TimeoutError):
    """The server CPUs stayed busy before a measurement: it was not started. The message
    names the processes that ran most there."""


def busiest_on(cpus, seconds: float = 0.5, top: int = 3) -> list[tuple[str, int, float]]:
    """The processes allowed on ``cpus`` that used most CPU over ``seconds``: (name, pid,
    share of one CPU), at least 5% each, busiest first."""
    cpus, first = set(cpus), {}
    for proc in psutil.process_iter(["name"]):
        try:
            if cpus & set(proc.cpu_affinity()):
                t = proc.cpu_times()
                first[proc.pid] = (proc, t.user + t.system)
        except (psutil.Error, OSError):
            continue
    time.sleep(seconds)
    out = []
    for pid, (proc, before) in first.items():
        try:
            t = proc.cpu_times()
        except psutil.Error:
            continue
        used = (t.user + t.system - before) / seconds
        if used >= 0.05:
            out.append((proc.info["name"] or "?", pid, used))
    return sorted(out, key=lambda r: -r[2])[:top]


def still_busy_message(cpus, timeout: float, busiest: list[tuple[str, int, float]]) -> str:
    """What :class:`StillBusy` says: which CPUs, for how long, and who ran there."""
    who = (", ".join(f"{name} (pid {pid}, {used:.0%} of a CPU)" for name, pid, used in busiest)
           if busiest else "no one process stood out (the kernel's own work, or many small ones)")
    return (f"CPUs {list(cpus)} stayed busy for {timeout:.0f} s before this measurement, so it "
            f"was not started. Busiest there: {who}. Stop what runs there (or wait for it), "
            "then rerun the cell.")


def wait_until_idle(cpus, busy_below: float = 0.25, interval: float = 0.05,
                    timeout: float = 15.0) -> float:
    """Wait until the given CPUs are less than ``busy_below`` busy over two consecutive
    intervals (e.g. a server has finished requests queued by a client that already left).
    50 ms is five of the kernel's 10-ms ticks a CPU: an idle stack's server CPU read busy in
    none of 100 such intervals here, and a backlog keeps it busy throughout; each point waits
    0.1 s at least, not 0.2 s.
    Returns the seconds waited; raises :class:`StillBusy` naming the CPUs and the processes
    busiest there after ``timeout``."""
    import time as _time

    start = _time.monotonic()
    last, calm = cpu_set_busy_seconds(cpus), 0
    while calm < 2:
        if _time.monotonic() - start > timeout:
            raise StillBusy(still_busy_message(cpus, timeout, busiest_on(cpus)))
        _time.sleep(interval)
        now = cpu_set_busy_seconds(cpus)
        calm = calm + 1 if (now - last) / interval / len(cpus) < busy_below else 0
        last = now
    return _time.monotonic() - start


def wait_until_hosts_idle(throttled: Callable[[], dict[str, int]], interval: float = 0.2,
                          calm_intervals: int = 2, timeout: float = 30.0) -> float:
    """Wait until no host of the scale model was throttled for ``calm_intervals`` intervals
    in a row. ``throttled``: host -> the kernel's count of periods in which it was held at
    its quota. A host working through a backlog runs at its quota and is throttled in nearly
    every period; an idle one never is. (Its CPU time would not say: it is counted in 10-ms
    ticks, and one tick of a 1/16-core host's housekeeping reads as 300% of a 0.2-s quota.)
    Returns the seconds waited; raises TimeoutError naming the busy hosts after ``timeout``."""
    start = time.monotonic()
    last, calm, busy = throttled(), 0, []
    while calm < calm_intervals:
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"hosts {busy} stayed at their CPU quota for {timeout:.0f} s "
                               "after the load stopped: a backlog of requests, or something "
                               "else running there")
        time.sleep(interval)
        now = throttled()
        busy = [k for k in now if now[k] > last.get(k, now[k])]
        calm = 0 if busy else calm + 1
        last = now
    return time.monotonic() - start


def tree_rss_bytes(pid: int) -> list[int]:
    """Resident memory of each process in a tree, root first."""
    try:
        root = psutil.Process(pid)
        procs = [root] + root.children(recursive=True)
    except psutil.Error:
        return []
    out = []
    for proc in procs:
        try:
            out.append(proc.memory_info().rss)
        except psutil.Error:
            pass
    return out


@dataclass
class CpuSampler:
    """Samples the CPU time of named process trees every ``interval`` seconds in a thread.

    ``roots`` maps a component name (app, db, cache, proxy, generator) to root pids;
    ``cpu_sets`` maps a name to CPU numbers whose busy time is sampled as ``cpuset_<name>``.
    """

    roots: dict[str, list[int]]
    cpu_sets: dict[str, tuple[int, ...]] = field(default_factory=dict)
    interval: float = 0.25
    times: list[float] = field(default_factory=list)
    samples: list[dict[str, float]] = field(default_factory=list)
    # name -> callable returning cumulative counters (cache hits, statement calls, ...),
    # sampled every counter_interval seconds and read per window like CPU time
    counters: dict = field(default_factory=dict)
    counter_interval: float = 1.0
    counter_times: list[float] = field(default_factory=list)
    counter_samples: list[dict[str, float]] = field(default_factory=list)
    host_cores: dict[str, float] = field(default_factory=dict)  # root "host_<key>" -> cores
    # name -> callable returning cumulative CPU seconds counted elsewhere (a host's control
    # group), sampled with the trees in their place
    meters: dict[str, Callable[[], float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="scalelab-cpu-sampler",
                                        daemon=True)
        self._lock = threading.Lock()

    def sample_now(self) -> None:
        t = time.time()
        values = {comp: sum(tree_cpu_seconds(pid) for pid in pids)
                  for comp, pids in self.roots.items()}
        values.update({name: read() for name, read in self.meters.items()})
        for name, cpus in self.cpu_sets.items():
            values[f"cpuset_{name}"] = cpu_set_busy_seconds(cpus)
        with self._lock:
            self.times.append(t)
            self.samples.append(values)
        if self.counters and (not self.counter_times
                              or t - self.counter_times[-1] >= self.counter_interval * 0.95):
            self.sample_counters()

    def sample_counters(self) -> None:
        t = time.time()
        values: dict[str, float] = {}
        for name, read in self.counters.items():
            try:
                values.update({f"{name}_{k}": float(v) for k, v in read().items()})
            except Exception:  # a counter that cannot be read is left out, not fatal
                continue
        with self._lock:
            self.counter_times.append(t)
            self.counter_samples.append(values)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample_now()

    def start(self) -> "CpuSampler":
        self.sample_now()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sample_now()
        if self.counters and (not self.counter_times or self.counter_times[-1] < self.times[-1]):
            self.sample_counters()  # the last window's end is covered by a counter sample too

    def __enter__(self) -> "CpuSampler":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def at(self, t: float) -> dict[str, float]:
        """Cumulative CPU seconds of every component at time t (linear interpolation)."""
        with self._lock:
            times, samples = list(self.times), list(self.samples)
        if not times:
            raise ValueError("no samples taken")
        if t <= times[0]:
            return dict(samples[0])
        if t >= times[-1]:
            return dict(samples[-1])
        i = bisect.bisect_right(times, t)
        t0, t1 = times[i - 1], times[i]
        w = (t - t0) / (t1 - t0) if t1 > t0 else 0.0
        return {c: samples[i - 1][c] + w * (samples[i][c] - samples[i - 1][c])
                for c in samples[i]}

    def window(self, t0: float, t1: float) -> dict[str, float]:
        """CPU seconds each component used between t0 and t1."""
        a, b = self.at(t0), self.at(t1)
        return {c: max(0.0, b[c] - a[c]) for c in b}

    def counters_window(self, t0: float, t1: float) -> dict[str, float]:
        """How much each counter grew between t0 and t1 (interpolated between samples)."""
        with self._lock:
            times, samples = list(self.counter_times), list(self.counter_samples)
        if len(times) < 2:
            return {}
        keys = set.intersection(*(set(s) for s in samples))

        def at(t: float) -> dict[str, float]:
            if t <= times[0]:
                return samples[0]
            if t >= times[-1]:
                return samples[-1]
            i = bisect.bisect_right(times, t)
            w = (t - times[i - 1]) / (times[i] - times[i - 1])
            return {k: samples[i - 1][k] + w * (samples[i][k] - samples[i - 1][k]) for k in keys}

        a, b = at(t0), at(t1)
        return {k: b[k] - a[k] for k in sorted(keys)}
