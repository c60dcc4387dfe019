"""Find the server binaries the lab starts, and say where each came from.

Lookup order, for every server (the first hit wins):
1. an environment variable override (``SCALELAB_POSTGRES_BIN`` is a directory, the others
   are paths to the executable);
2. the active conda environment (``$CONDA_PREFIX/bin``);
3. ``PATH`` (plus ``/usr/sbin`` and ``/usr/local/sbin``, where Debian puts nginx);
4. for PostgreSQL, Debian's versioned directory ``/usr/lib/postgresql/<N>/bin``, highest N.

``python -m scalelab.plumbing.binaries --missing-packages`` prints the Debian packages to install for
what is missing (used by ``scripts/setup-servers.sh``); ``--explain`` says what was looked at.
"""

from __future__ import annotations

import argparse
import functools
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

DEBIAN_PG_ROOT = Path("/usr/lib/postgresql")
EXTRA_PATH = ("/usr/sbin", "/usr/local/sbin", "/sbin")


class MissingBinary(RuntimeError):
    """A server binary the lab needs is not installed (the message says how to get it)."""


@dataclass(frozen=True)
class Server:
    """One server the lab can start: its executables and how to get it."""

    name: str
    executables: tuple[str, ...]  # all must be found in one directory; the first is the server
    env_var: str
    env_is_dir: bool
    debian_packages: tuple[str, ...]
    conda_package: str | None
    required: bool = True
    version_args: tuple[str, ...] = ("--version",)


SERVERS: dict[str, Server] = {
    "postgresql": Server(
        "postgresql", ("postgres", "initdb", "pg_basebackup"), "SCALELAB_POSTGRES_BIN", True,
        ("postgresql",), "postgresql"),
    "redis": Server("redis", ("redis-server",), "SCALELAB_REDIS_SERVER", False,
                    ("redis-server",), "redis-server"),
    "nginx": Server("nginx", ("nginx",), "SCALELAB_NGINX", False,
                    ("nginx-light", "nginx"), "nginx", version_args=("-v",)),
    "memcached": Server("memcached", ("memcached",), "SCALELAB_MEMCACHED", False,
                        ("memcached",), None, required=False, version_args=("-V",)),
    # the connection pooler of notebook 07 (its pooler experiment is skipped without it)
    "pgbouncer": Server("pgbouncer", ("pgbouncer",), "SCALELAB_PGBOUNCER", False,
                        ("pgbouncer",), "pgbouncer", required=False),
    # not a server: the independent load generator (scalelab.load.wrk) that calibrates Locust and
    # drives pages too cheap for Locust (notebooks 00 and 02)
    "wrk": Server("wrk", ("wrk",), "SCALELAB_WRK", False, ("wrk",), "wrk",
                  version_args=("-v",)),
}


@dataclass
class Found:
    """Where a server's executables are, where that came from, and its version."""

    server: Server
    paths: dict[str, Path] = field(default_factory=dict)
    source: str = ""
    looked_at: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.paths)

    def path(self, executable: str | None = None) -> Path:
        if not self.ok:
            raise MissingBinary(missing_message([self]))
        return self.paths[executable or self.server.executables[0]]

    @functools.cached_property
    def version(self) -> str:
        if not self.ok:
            return "missing"
        try:
            out = subprocess.run([str(self.path()), *self.server.version_args],
                                 capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"unknown ({exc})"
        text = (out.stdout + out.stderr).strip()
        m = re.search(r"(\d+\.\d+(?:\.\d+)?)", text)
        return m.group(1) if m else text[:60]


def _dir_with_all(directory: Path, executables: tuple[str, ...]) -> dict[str, Path] | None:
    paths = {}
    for exe in executables:
        candidate = directory / exe
        if not (candidate.is_file() and os.access(candidate, os.X_OK)):
            return None
        paths[exe] = candidate
    return paths


def _debian_pg_dirs() -> list[Path]:
    if not DEBIAN_PG_ROOT.is_dir():
        return []
    versions = [p for p in DEBIAN_PG_ROOT.iterdir() if p.name.isdigit() and (p / "bin").is_dir()]
    return [p / "bin" for p in sorted(versions, key=lambda p: int(p.name), reverse=True)]


def find(name: str, environ: dict[str, str] | None = None) -> Found:
    """Find one server by name (``postgresql``, ``redis``, ``nginx``, ``memcached``)."""
    if name not in SERVERS:
        raise ValueError(f"server must be one of {sorted(SERVERS)}, not {name!r}")
    env = os.environ if environ is None else environ
    server = SERVERS[name]
    found = Found(server)

    override = env.get(server.env_var)
    if override:
        directory = Path(override) if server.env_is_dir else Path(override).parent
        found.looked_at.append(f"${server.env_var}={override}")
        paths = _dir_with_all(directory, server.executables)
        if paths and (server.env_is_dir or paths[server.executables[0]] == Path(override)):
            found.paths, found.source = paths, f"${server.env_var}"
        return found  # an explicit override is never second-guessed

    candidates: list[tuple[str, Path]] = []
    if env.get("CONDA_PREFIX"):
        candidates.append(("conda env", Path(env["CONDA_PREFIX"]) / "bin"))
    path_dirs = [d for d in env.get("PATH", "").split(os.pathsep) if d] + list(EXTRA_PATH)
    for d in dict.fromkeys(path_dirs):
        candidates.append(("PATH", Path(d)))
    if name == "postgresql":
        candidates += [("Debian versioned dir", d) for d in _debian_pg_dirs()]
        if not _debian_pg_dirs():
            found.looked_at.append("Debian /usr/lib/postgresql/N/bin")

    for source, directory in candidates:
        label = "Debian /usr/lib/postgresql/N/bin" if source.startswith("Debian") else (
            f"conda env {env.get('CONDA_PREFIX')}" if source == "conda env" else "PATH")
        if label not in found.looked_at:
            found.looked_at.append(label)
        paths = _dir_with_all(directory, server.executables)
        if paths is None and source == "PATH" and (directory / server.executables[0]).exists():
            # e.g. /usr/local/bin/postgres -> /usr/lib/postgresql/15/bin/postgres: use the real dir
            real_dir = (directory / server.executables[0]).resolve().parent
            paths = _dir_with_all(real_dir, server.executables)
        if paths:
            found.paths, found.source = paths, source
            break
    return found


def find_all(environ: dict[str, str] | None = None) -> dict[str, Found]:
    return {name: find(name, environ) for name in SERVERS}


def missing_message(missing: list[Found]) -> str:
    lines = []
    for f in missing:
        s = f.server
        lines.append(
            f"{s.name}: {' and '.join(s.executables)} not found (looked at: "
            f"{', '.join(f.looked_at) or 'nothing'}).")
        lines.append(
            f"  fix: Debian as root `apt-get install {s.debian_packages[0]}`; "
            + (f"conda `conda install -c conda-forge {s.conda_package}`; " if s.conda_package
               else "not on conda-forge; ")
            + f"or set {s.env_var}" + (" to its bin directory" if s.env_is_dir else " to its path"))
    return "\n".join(lines)


def require(name: str) -> Found:
    """Find a server or raise :class:`MissingBinary` naming it and the fix."""
    found = find(name)
    if not found.ok:
        raise MissingBinary(missing_message([found]))
    return found


def _debian_package_available(pkg: str) -> bool:
    try:
        out = subprocess.run(["apt-cache", "policy", pkg], capture_output=True, text=True,
                             timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    m = re.search(r"Candidate:\s*(\S+)", out.stdout)
    return bool(m and m.group(1) != "(none)")


def missing_debian_packages() -> list[str]:
    pkgs = []
    for found in find_all().values():
        if found.ok:
            continue
        options = found.server.debian_packages
        pick = next((p for p in options if _debian_package_available(p)), options[-1])
        pkgs.append(pick)
    return pkgs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scalelab.plumbing.binaries")
    parser.add_argument("--missing-packages", action="store_true",
                        help="print the Debian packages for missing servers; exit 1 if any")
    parser.add_argument("--explain", action="store_true", help="say what is missing and why")
    args = parser.parse_args(argv)
    if args.explain:
        missing = [f for f in find_all().values() if not f.ok]
        print(missing_message(missing) if missing else "every server binary was found")
        return 1 if missing else 0
    pkgs = missing_debian_packages()
    if pkgs:
        print(" ".join(pkgs))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())


_AVAILABILITY: dict[str, Callable[[str], bool] | None] = {"answer": None}


def use_availability(answer: Callable[[str], bool] | None) -> Callable[[str], bool] | None:
    """Let ``answer(name)`` say which servers are available (None: look on this machine).
    Reference mode answers with the reference machine's servers, whose rows it shows. Returns
    the answer set before."""
    before, _AVAILABILITY["answer"] = _AVAILABILITY["answer"], answer
    return before


def available(name: str) -> bool:
    """Whether experiments needing server ``name`` can run: it is found here (or
    ``use_availability``'s answer says so)."""
    answer = _AVAILABILITY["answer"]
    return answer(name) if answer is not None else find(name).ok
