"""A sampling profile of the app servers' Python under load, with py-spy (notebook 08).

``record(stack, seconds)`` runs ``py-spy record`` on every app server process tree (the
gunicorn master and its workers), as a process group of its own tied to this thread and
pinned to the generator's CPUs, for ``seconds``; py-spy reads the workers' stacks from outside
(``--nonblocking``: they are never paused) and counts only threads on the CPU, not those
waiting for the database. It returns a :class:`Profile`: the samples as collapsed stacks,
from which the flame graph, the top frames by self time and the share of each layer
(middleware, ORM, templates, ...) are computed. The profiler never outlives its owner: it
stops when its duration ends, when the block raises, or when this process dies.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from scalelab.plumbing.checks import check_int
from scalelab.plumbing.processes import spawn, stop_group, wrap_command
from scalelab.plumbing.runs import Run

RATE = (10, 1000)  # samples a second


def executable() -> str | None:
    """py-spy's path: beside this Python (it is a dependency of the lab), else on PATH."""
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


# Where a frame's file says its time went, first match wins (paths as py-spy prints them).
_AT = r"[(/]"  # a path in a frame starts after "(" or a folder's "/" (py-spy shortens paths)
LAYERS = (
    ("templates", re.compile(_AT + r"(django/template/|jinja2/|qa/templatetags/)")),
    ("ORM (building queries, making objects)", re.compile(_AT + r"django/db/models/")),
    ("database driver (sending queries, reading rows)", re.compile(_AT + r"(django/db/backends/|psycopg/|psycopg_)")),
    ("middleware and request handling", re.compile(
        _AT + r"(django/(core/handlers|middleware|contrib/(sessions|auth)|http|urls"
              r"|utils/deprecation)|qa/middleware\.py|qa/routers\.py)")),
    ("the app's own code", re.compile(_AT + r"qa/(views|design|layers|bare|caching)\.py")),
    ("server (gunicorn, WSGI)", re.compile(_AT + r"(gunicorn/|wsgiref/|socket\.py|selectors\.py)")),
)
OTHER = "other Python (standard library, Django's other parts)"


@dataclass
class Profile:
    """Samples of the app's Python: ``stacks`` has one row per distinct stack (``frames``:
    outermost first, each ``function (file:line)``) and its ``samples``."""

    stacks: pd.DataFrame
    seconds: float
    rate: int

    @property
    def samples(self) -> int:
        return int(self.stacks.samples.sum()) if len(self.stacks) else 0

    def top_frames(self, n: int = 15) -> pd.DataFrame:
        """The frames where most samples were taken (self time): frame, samples, share."""
        if not len(self.stacks):
            return pd.DataFrame(columns=["frame", "samples", "share"])
        leaf = self.stacks.assign(frame=self.stacks.frames.map(lambda f: f[-1]))
        out = leaf.groupby("frame").samples.sum().sort_values(ascending=False).head(n)
        return pd.DataFrame({"frame": out.index, "samples": out.values,
                             "share": out.values / self.samples})

    def layer_shares(self) -> pd.DataFrame:
        """Each layer's share of the samples: a sample counts for the layer of its innermost
        frame that belongs to one (``LAYERS``), else for ``OTHER``."""
        counts: dict[str, int] = {name: 0 for name, _ in LAYERS}
        counts[OTHER] = 0
        for frames, n in zip(self.stacks.frames, self.stacks.samples):
            counts[layer_of(frames)] += int(n)
        total = sum(counts.values()) or 1
        return pd.DataFrame({"layer": list(counts), "samples": list(counts.values()),
                             "share": [v / total for v in counts.values()]})


def layer_of(frames) -> str:
    for frame in reversed(list(frames)):
        for name, pattern in LAYERS:
            if pattern.search(frame):
                return name
    return OTHER


def parse_collapsed(text: str) -> pd.DataFrame:
    """py-spy's ``raw`` output (``frame;frame;... count`` per line) as a frame of stacks.
    The process and thread frames py-spy adds at the root are dropped."""
    rows = []
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [f for f in stack.split(";") if not re.match(r"(process|thread) \S+", f)]
        if frames:
            rows.append((tuple(frames), int(count)))
    df = pd.DataFrame(rows, columns=["frames", "samples"])
    return df.groupby("frames", as_index=False, sort=False).samples.sum()


def record(stack, seconds: int = 5, rate: int = 100, layout=None) -> Profile:
    """Profile every app server of ``stack`` for ``seconds`` (run the load meanwhile, e.g.
    ``wrk.start``). Blocks until py-spy has written its samples."""
    check_int("seconds", seconds, 1, 600)
    check_int("rate", rate, *RATE)
    exe = executable()
    if exe is None:
        raise RuntimeError("py-spy is not installed: `make setup` installs it in .venv "
                           "(pip install py-spy)")
    layout = layout or stack.layout
    pids = [svc.pid for svc in stack.replicas if svc.pid is not None]
    if not pids:
        raise RuntimeError("the stack has no running app server to profile")
    run = Run.create("profile")
    procs = []
    try:
        for i, pid in enumerate(pids):
            out = run.dir / f"profile-{i}.txt"
            command = [exe, "record", "--pid", str(pid), "--subprocesses", "--nonblocking",
                       "--rate", str(rate), "--duration", str(seconds), "--format", "raw",
                       "--output", str(out)]
            procs.append((out, spawn(wrap_command(command, cpus=layout.generator,
                                                  deathsig="SIGKILL"),
                                     run.dir / "logs" / f"py-spy-{i}.log",
                                     env={**_env(), **run.env()})))
        text = []
        for out, proc in procs:
            try:
                code = proc.wait(timeout=seconds + 30)
            except subprocess.TimeoutExpired:
                raise RuntimeError(f"py-spy did not finish within {seconds + 30} s; see "
                                   f"{run.dir / 'logs'}") from None
            if code != 0 or not out.exists():
                log = "\n".join((run.dir / "logs").glob("py-spy-*.log").__next__()
                                .read_text().splitlines()[-10:])
                raise RuntimeError(f"py-spy exited with {code}:\n{log}")
            text.append(out.read_text())
    finally:
        for _, proc in procs:
            if proc.poll() is None:
                stop_group(proc)
        run.close()
    return Profile(parse_collapsed("\n".join(text)), seconds, rate)


def _env() -> dict:
    import os

    return dict(os.environ)
