"""The machine a result was measured on: cores, CPU model, memory, kernel, the versions of
Python, Django, the servers and Locust, and the git commit (``environment()``)."""

from __future__ import annotations

import functools
import os
import platform
import subprocess
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

from scalelab.plumbing import binaries, paths


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _not_the_reference() -> list[str]:
    """A pathspec leaving out the reference folder, when it is in the project: the reference
    being recorded is no change to the code that measures (`make reference` writes each
    notebook's folder before it runs the next)."""
    ref = paths.reference_dir().resolve()
    try:
        inside = ref.relative_to(paths.PROJECT_ROOT.resolve())
    except ValueError:
        return []
    return ["--", ".", f":(exclude){inside}"]


def git_commit() -> str:
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=paths.PROJECT_ROOT,
                             capture_output=True, text=True, timeout=5).stdout.strip()
        # the notebooks' nbstripout filter (scripts/setup-python.sh) starts a Python per
        # notebook whose file git has not seen since: `cat` compares the bytes instead
        # (outputs saved in a notebook then count as a change, which they are)
        dirty = subprocess.run(["git", "-c", "filter.nbstripout.clean=cat", "status",
                                "--porcelain", "--untracked-files=no", *_not_the_reference()],
                               cwd=paths.PROJECT_ROOT, capture_output=True, text=True,
                               timeout=5).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return (sha or "unknown") + ("-dirty" if dirty else "")


def _pkg(name: str) -> str:
    try:
        return importlib_metadata.version(name)
    except importlib_metadata.PackageNotFoundError:
        return "not installed"


@functools.lru_cache(maxsize=1)
def _static_environment() -> dict[str, Any]:
    servers = {name: (f.version if f.ok else "missing") for name, f in binaries.find_all().items()}
    return {
        "cores": os.cpu_count(),
        "cpus_available": sorted(os.sched_getaffinity(0)),
        "cpu_model": cpu_model(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "django": _pkg("django"),
        "gunicorn": _pkg("gunicorn"),
        "uvicorn": _pkg("uvicorn"),
        "locust": _pkg("locust"),
        "psycopg": _pkg("psycopg"),
        "postgresql": servers["postgresql"],
        "redis": servers["redis"],
        "nginx": servers["nginx"],
        "memcached": servers["memcached"],
    }


def environment() -> dict[str, Any]:
    env = dict(_static_environment())
    env["git_commit"] = git_commit()
    return env


