"""Hosts of the scale model: a Linux control group with a CPU quota, so that a group of
processes behaves as a small machine of its own (``Host(cpus=0.25, name="app1")``).

A quota of 0.25 core is what Kubernetes gives a container with a 250m CPU limit: the same
kernel mechanism (CFS bandwidth control), so the model is also a picture of a small container
deployment. The period is short (10 ms) so a throttled host stalls for milliseconds, not for
the kernel's default 100 ms.

cgroup v1 (``cpu.cfs_quota_us`` and ``cpu.cfs_period_us`` under the ``cpu`` controller's
mount) and cgroup v2 (``cpu.max``) are both written; either needs root, or a v2 subtree
delegated to the user. Every host of a run lives under ``<controller>/scalelab/<run id>/``:
removed when its stack stops, and by the reaper (:func:`remove_stale`) when the run's owner
died. A server starts on the server CPUs and moves into its host, with every process of its
tree, once it is ready (:func:`Host.adopt`); what it forks later is born there. Start-up is
not what the model measures, and a Django worker importing itself at 1/16 core would take
seconds.

A host's CPU time is read from the kernel's own count for the group (:meth:`Host.usage_s`,
nanoseconds: v1's ``cpuacct.usage``, in a twin group under the ``cpuacct`` controller when it
is mounted apart; v2's ``cpu.stat``), not summed over its processes: those are counted in
10-ms ticks each, and twenty PostgreSQL backends' rounding is more than a 1/32-core host's
quota over a few seconds.
"""

from __future__ import annotations

import math
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import psutil

from scalelab.plumbing.checks import check_label

PERIOD_US = 10_000  # 10 ms: a throttled host waits at most the rest of one period
MIN_QUOTA_US = 1_000  # the kernel's smallest quota: a host under 0.1 core gets a longer period
MIN_CORES = 1 / 64  # below this a quota of 10 ms periods is under 160 µs: not a machine
ROOT = "scalelab"   # the lab's folder in the CPU controller's hierarchy
# the model deployment of 05 and 09: app servers in hosts of 1/16 core (up to 8), the database
# in a quarter, nginx in an eighth, Redis in a sixteenth: with 8 app hosts 15/16 of one server
# CPU, so hosts never compete for it
DEPLOYMENT = {"app": 1 / 16, "db": 1 / 4, "proxy": 1 / 8, "cache": 1 / 16}
MAX_APP_HOSTS = 8
MOUNTS = Path("/proc/self/mounts")


@dataclass(frozen=True)
class Controller:
    """Where the CPU controller is: cgroup version 1 or 2, and its folder."""

    version: int
    path: Path

    @property
    def root(self) -> Path:
        return self.path / ROOT


def find_meter(mounts: Path = MOUNTS) -> Path | None:
    """cgroup v1: the mount of the ``cpuacct`` controller (it may be the ``cpu`` one)."""
    try:
        lines = mounts.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        parts = line.split()
        if len(parts) >= 4 and parts[2] == "cgroup" and "cpuacct" in parts[3].split(","):
            return Path(parts[1])
    return None


def find_controller(mounts: Path = MOUNTS) -> tuple[Controller | None, str]:
    """The CPU controller this process may use, or None and the reason in one sentence."""
    try:
        lines = mounts.read_text().splitlines()
    except OSError as exc:
        return None, f"cannot read {mounts} ({exc.strerror})"
    v1 = v2 = None
    for line in lines:
        parts = line.split()
        if len(parts) < 4:
            continue
        where, kind, options = parts[1], parts[2], parts[3].split(",")
        if kind == "cgroup" and "cpu" in options:
            v1 = Path(where)
        elif kind == "cgroup2" and v2 is None:
            v2 = Path(where)
    if v1 is not None:
        return _writable(Controller(1, v1))
    if v2 is not None:
        try:
            controllers = (v2 / "cgroup.controllers").read_text().split()
        except OSError:
            controllers = []
        if "cpu" not in controllers:
            return None, (f"the cgroup v2 hierarchy at {v2} offers no cpu controller "
                          "(it is bound to another hierarchy, or not delegated here)")
        return _writable(Controller(2, v2))
    return None, "no cgroup hierarchy with a CPU controller is mounted"


def _writable(controller: Controller) -> tuple[Controller | None, str]:
    where = controller.root if controller.root.exists() else controller.path
    if not os.access(where, os.W_OK):
        hint = ("as a user, `systemd-run --user --scope -p CPUQuota=25%` makes such a group "
                "where systemd delegates the cpu controller") if controller.version == 2 \
            else "cgroup v1 needs root"
        return None, (f"this process may not make control groups in {where} "
                      f"(cgroup v{controller.version}; {hint})")
    return controller, f"cgroup v{controller.version} CPU controller at {controller.path}"


def support() -> tuple[bool, str]:
    """Whether hosts can be made here, and what says so (``scalelab doctor``)."""
    controller, reason = find_controller()
    return controller is not None, reason


class HostError(RuntimeError):
    """A host that cannot be made or placed."""


@dataclass
class Host:
    """A group of processes with ``cpus`` cores of CPU time (a quota per 10 ms period)."""

    name: str
    cpus: float
    path: Path | None = field(default=None, init=False)
    _version: int = field(default=0, init=False, repr=False)
    # v1: the group whose cpuacct.usage counts the host's CPU time (itself when cpuacct is
    # mounted with cpu; a twin under cpuacct's own mount otherwise)
    _meter: Path | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        check_label(self.name, "name")
        if isinstance(self.cpus, bool) or not isinstance(self.cpus, (int, float)) \
                or not MIN_CORES <= self.cpus <= os.cpu_count():
            raise ValueError(f"cpus must be a number of cores from 1/64 to {os.cpu_count()} "
                             f"(this machine's), not {self.cpus!r}")

    @property
    def period_us(self) -> int:
        """10 ms, or longer for a host under 0.1 core (1/16 core: 16 ms), whose quota would
        otherwise be under the kernel's smallest (1 ms)."""
        return max(PERIOD_US, math.ceil(MIN_QUOTA_US / self.cpus))

    @property
    def quota_us(self) -> int:
        return round(self.cpus * self.period_us)

    def create(self, run_id: str) -> "Host":
        """Make the group under the lab's folder for ``run_id`` and set its quota."""
        controller, reason = find_controller()
        if controller is None:
            raise HostError(f"host {self.name!r} cannot be made: {reason}")
        folder = controller.root / run_id / self.name
        try:
            for part in (controller.root, controller.root / run_id, folder):
                for _ in range(3):  # another run may remove the lab's folder meanwhile
                    try:
                        part.mkdir(exist_ok=True)
                        break
                    except FileNotFoundError:
                        part.parent.mkdir(exist_ok=True)
                if controller.version == 2 and part != folder:
                    _enable_cpu(part)
            if controller.version == 1:
                (folder / "cpu.cfs_period_us").write_text(str(self.period_us))
                (folder / "cpu.cfs_quota_us").write_text(str(self.quota_us))
            else:
                (folder / "cpu.max").write_text(f"{self.quota_us} {self.period_us}")
        except OSError as exc:
            _remove_folder(folder)
            raise HostError(f"host {self.name!r} cannot be made in {folder}: "
                            f"{exc.strerror or exc}") from None
        self.path, self._version = folder, controller.version
        meter = find_meter() if controller.version == 1 else None
        if meter == controller.path:
            self._meter = folder
        elif meter is not None:
            twin = meter / ROOT / run_id / self.name
            try:
                for part in (meter / ROOT, meter / ROOT / run_id, twin):
                    part.mkdir(exist_ok=True)
                self._meter = twin
            except OSError:
                _remove_folder(twin)  # no twin: usage_s() says NaN, the sampler sums trees
        return self

    @property
    def _twin(self) -> Path | None:
        return self._meter if self._meter not in (None, self.path) else None

    def _cpu_stat(self) -> dict[str, str]:
        """The group's ``cpu.stat``, name -> value."""
        return dict(line.split() for line in (self.path / "cpu.stat").read_text().splitlines()
                    if len(line.split()) == 2)

    def usage_s(self) -> float:
        """CPU seconds the host's processes used since it was made (the kernel's count, in
        ns); NaN where it cannot be read."""
        try:
            if self._version == 2 and self.path is not None:
                return int(self._cpu_stat()["usage_usec"]) / 1e6
            if self._meter is None:
                return math.nan
            return int((self._meter / "cpuacct.usage").read_text()) / 1e9
        except (OSError, KeyError, ValueError):
            return math.nan

    @property
    def procs_file(self) -> Path:
        if self.path is None:
            raise HostError(f"host {self.name!r} was not created")
        return self.path / "cgroup.procs"

    def adopt(self, root: int) -> list[int]:
        """Move process ``root`` and its whole tree into the host, again until no new process
        appears (one forked meanwhile is moved too); return the pids moved."""
        moved: set[int] = set()
        for _ in range(5):
            try:
                proc = psutil.Process(root)
                tree = {root, *(p.pid for p in proc.children(recursive=True))}
            except psutil.NoSuchProcess:
                raise HostError(f"host {self.name!r}: process {root} ended before it "
                                "could move in") from None
            new = tree - moved
            if not new:
                break
            for pid in sorted(new):
                try:
                    _write_pid(self.procs_file, pid)
                    if self._twin is not None:
                        _write_pid(self._twin / "cgroup.procs", pid)
                except ProcessLookupError:
                    continue  # ended meanwhile
                moved.add(pid)
        return sorted(moved)

    def release(self) -> list[int]:
        """Move every process out of the host, back to the top of the hierarchy (full speed:
        a server about to stop); the host stays, empty. Returns the pids moved."""
        if self.path is None:
            return []
        moved = []
        for folder, group in ((self.path, self.path.parents[2]),
                              (self._twin, self._twin.parents[2] if self._twin else None)):
            if folder is None:
                continue
            for pid in _read_pids(folder):
                try:
                    _write_pid(group / "cgroup.procs", pid)
                    moved.append(pid)
                except OSError:
                    continue  # ended meanwhile
        return sorted(set(moved))

    def set_period(self, period_us: int | None) -> None:
        """Enforce the same share (``cpus``) in periods of ``period_us`` (1 ms to 1 s); None
        lifts the quota (the processes stay in the host, counted, unthrottled). For an
        experiment on the period itself (``scripts/host_period.py``): a host is made with
        ``period_us`` (10 ms; longer under 0.1 core)."""
        if self.path is None:
            raise HostError(f"host {self.name!r} was not created")
        if period_us is not None and (isinstance(period_us, bool) or not isinstance(
                period_us, int) or not 1_000 <= period_us <= 1_000_000
                or round(self.cpus * period_us) < MIN_QUOTA_US):
            raise ValueError(f"period_us must be a whole number of µs from 1,000 to 1,000,000 "
                             f"giving a quota of at least {MIN_QUOTA_US} µs at {self.cpus:g} "
                             f"core, or None, not {period_us!r}")
        if self._version == 2:
            (self.path / "cpu.max").write_text(
                "max" if period_us is None else f"{round(self.cpus * period_us)} {period_us}")
            return
        # v1: lift the quota first, so the new period never meets the old quota
        (self.path / "cpu.cfs_quota_us").write_text("-1")
        if period_us is not None:
            (self.path / "cpu.cfs_period_us").write_text(str(period_us))
            (self.path / "cpu.cfs_quota_us").write_text(str(round(self.cpus * period_us)))

    def pids(self) -> list[int]:
        try:
            return [int(p) for p in self.procs_file.read_text().split()]
        except (OSError, HostError):
            return []

    def throttling(self) -> dict[str, float]:
        """The kernel's counts: periods, periods throttled, and seconds throttled."""
        if self.path is None:
            return {}
        stat = self._cpu_stat()
        if self._version == 1:
            return {"periods": int(stat.get("nr_periods", 0)),
                    "throttled_periods": int(stat.get("nr_throttled", 0)),
                    "throttled_s": int(stat.get("throttled_time", 0)) / 1e9}
        return {"periods": int(stat.get("nr_periods", 0)),
                "throttled_periods": int(stat.get("nr_throttled", 0)),
                "throttled_s": int(stat.get("throttled_usec", 0)) / 1e6}

    def remove(self, timeout: float = 5.0) -> None:
        """Remove the group once its processes are gone (killed if still there at the end)."""
        if self.path is None:
            return
        for folder in (self.path, self._twin):
            if folder is None:
                continue
            _remove_folder(folder, timeout)
            try:
                folder.parent.rmdir()  # the run's folder, once its last host is gone
            except OSError:
                pass
            _remove_root_if_empty(folder.parent.parent)
        self.path = self._meter = None


def _remove_root_if_empty(root: Path) -> None:
    """The lab's folder goes with its last run's hosts (another run may make it again)."""
    try:
        root.rmdir()
    except OSError:
        pass  # another run's hosts are in it, or it is gone already


def _write_pid(procs_file: Path, pid: int) -> None:
    with open(procs_file, "w") as procs:  # one pid a write, as cgroup v1 wants
        procs.write(str(pid))


def _enable_cpu(folder: Path) -> None:
    control = folder / "cgroup.subtree_control"
    if "cpu" not in control.read_text().split():
        control.write_text("+cpu")


def _remove_folder(folder: Path, timeout: float = 5.0) -> None:
    """rmdir a group (children first), killing what still runs in it after ``timeout``."""
    if not folder.is_dir():
        return
    for child in [p for p in folder.iterdir() if p.is_dir()]:
        _remove_folder(child, timeout)
    deadline = time.monotonic() + timeout
    while True:
        try:
            folder.rmdir()
            return
        except OSError:
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
    for pid in _read_pids(folder):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    end = time.monotonic() + 2
    while time.monotonic() < end:
        try:
            folder.rmdir()
            return
        except OSError:
            time.sleep(0.05)
    raise HostError(f"the control group {folder} could not be removed: pids "
                    f"{_read_pids(folder)} are still in it")


def _read_pids(folder: Path) -> list[int]:
    try:
        return [int(p) for p in (folder / "cgroup.procs").read_text().split()]
    except OSError:
        return []


def run_folders() -> list[Path]:
    """The folders of runs that made hosts and have not removed them (under the CPU
    controller, and under a ``cpuacct`` controller mounted apart)."""
    controller, _ = find_controller()
    if controller is None:
        return []
    roots = [controller.root]
    meter = find_meter() if controller.version == 1 else None
    if meter is not None and meter != controller.path:
        roots.append(meter / ROOT)
    return sorted(p for root in roots if root.is_dir() for p in root.iterdir() if p.is_dir())


def remove_stale(run_alive: Callable[[str], bool]) -> list[str]:
    """Remove the hosts of every run that is not alive (its owner died): the reaper's part.
    Returns the run ids removed."""
    removed = []
    for folder in run_folders():
        if not run_alive(folder.name):
            _remove_folder(folder, timeout=0.5)
            removed.append(folder.name)
            _remove_root_if_empty(folder.parent)
    return sorted(set(removed))
