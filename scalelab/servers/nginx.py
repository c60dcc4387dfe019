"""nginx: a reverse proxy in front of the app, optionally with a microcache, gzip, and serving
the static files itself (``serve_static``: from a copy, with a lifetime of an hour).

Runs as an unprivileged user with everything in a folder of its own under the state directory
(which that user can reach even when the checkout is in a private folder): its prefix, pid
file, access log, every temp path, the cache directory and a copy of the static files. Its
errors go to stderr, so they land in the run's log (``build/runs/<run>/logs/nginx.log``). It has its own ``types`` block (no system
mime.types) and never sees an environment variable named NGINX (nginx reads listening sockets
from it). The access log records ``$upstream_cache_status``, from which :meth:`stats` counts
hits and misses, and each request's time in nginx (:meth:`request_times`).
"""

from __future__ import annotations

import functools
import os
import pwd
import shutil
import signal
from collections import Counter
from pathlib import Path
from typing import Sequence

from scalelab.plumbing import paths
from scalelab.plumbing.checks import check_choice, check_int
from scalelab.plumbing.http import http_get
from scalelab.servers.base import HOST, Service

TYPES = {
    "text/html": "html htm", "text/css": "css", "application/javascript": "js",
    "application/json": "json", "image/png": "png", "image/jpeg": "jpg jpeg",
    "image/svg+xml": "svg", "text/plain": "txt", "image/x-icon": "ico",
}
HIT_STATUSES = ("HIT", "STALE", "UPDATING", "REVALIDATED")
MICROCACHE_TTL = (0, 3600)  # allowed microcache TTLs in seconds (0: off)
BALANCE = ("round_robin", "least_conn")  # how nginx spreads requests over the app servers
TEMPLATES = Path(__file__).resolve().parent / "templates"


@functools.cache
def _template():
    """The configuration's template (loaded once; Jinja2 is imported only when needed)."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=False,
                             keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    return env.get_template("nginx.conf.j2")


class Nginx(Service):
    name = "nginx"
    component = "proxy"
    binary = "nginx"
    account = "lab"
    deathsig = "SIGTERM"          # fast shutdown; the master takes its workers along
    stop_signal = signal.SIGTERM
    env_remove = ("NGINX",)

    def __init__(self, run, upstream_port: int | Sequence[int], cpus=None, port=None,
                 microcache_ttl: int = 0, static_root: Path | None = None,
                 log_name: str | None = None, gzip: bool = False, serve_static: bool = True,
                 balance: str = "round_robin", retry_post: bool = False,
                 fail_timeout: int = 2):
        super().__init__(run, cpus, port, log_name)
        ports = [upstream_port] if isinstance(upstream_port, int) else list(upstream_port)
        if not ports or not all(isinstance(p, int) and 0 < p < 65536 for p in ports):
            raise ValueError(f"upstream_port must be a port or a list of ports, not "
                             f"{upstream_port!r}")
        check_choice("balance", balance, BALANCE)
        check_int("fail_timeout", fail_timeout, 1, 600)
        if not isinstance(retry_post, bool):
            raise ValueError(f"retry_post must be True or False, not {retry_post!r}")
        # several app servers: nginx spreads requests over them (``balance``), takes one out for
        # ``fail_timeout`` s after a failed attempt (max_fails=1), and passes a request that
        # failed on one to the next: GETs always, POSTs only with ``retry_post``
        self.upstream_ports, self.balance = ports, balance
        self.retry_post, self.fail_timeout = retry_post, fail_timeout
        check_int("microcache_ttl", microcache_ttl, *MICROCACHE_TTL)
        if not isinstance(gzip, bool):
            raise ValueError(f"gzip must be True or False, not {gzip!r}")
        self.gzip = gzip  # compress text responses (pages, CSS, JS) on the fly
        if not isinstance(serve_static, bool):
            raise ValueError(f"serve_static must be True or False, not {serve_static!r}")
        # serve /static/ from its own copy (True), or pass it to the app like any other path
        # (False: the app serves its static files, e.g. WhiteNoise's hashed names)
        self.serve_static = serve_static
        self.microcache_ttl = microcache_ttl
        self.source_static = static_root or paths.APP_DIR / "qa" / "static"
        self.prefix = paths.state_dir() / "nginx" / run.id
        self.static_root = self.prefix / "static"
        self._log_offset = 0
        self._counts: Counter = Counter()

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def access_log(self) -> Path:
        return self.prefix / "access.log"

    def config(self) -> str:
        """This run's nginx.conf, from ``templates/nginx.conf.j2``."""
        return _template().render(
            prefix=self.prefix, access_log=self.access_log, host=HOST, port=self.port,
            types=TYPES, gzip=self.gzip, least_conn=self.balance == "least_conn",
            upstream_ports=self.upstream_ports, fail_timeout=self.fail_timeout,
            static_root=self.static_root if self.serve_static else None,
            retry_post=self.retry_post, microcache_ttl=self.microcache_ttl)

    def prepare(self) -> None:
        self.prefix.parent.mkdir(parents=True, exist_ok=True)
        self.prefix.parent.chmod(0o755)
        for sub in ("", "tmp", "cache"):
            (self.prefix / sub).mkdir(parents=True, exist_ok=True)
        if self.serve_static and not self.static_root.exists():
            shutil.copytree(self.source_static, self.static_root)
        self.access_log.touch()
        user = self.user
        if user is not None:
            entry = pwd.getpwnam(user)
            for path in [self.prefix, *self.prefix.rglob("*")]:
                os.chown(path, entry.pw_uid, entry.pw_gid)

    def stop(self) -> None:
        super().stop()
        shutil.rmtree(self.prefix, ignore_errors=True)  # the cache may be large
    def command(self) -> list[str]:
        # written now that the port is chosen (world-readable: nginx only reads it)
        (self.prefix / "nginx.conf").write_text(self.config())
        # -e stderr: even errors before the config is read go to our log, not a system path
        return [str(self.found.path()), "-p", str(self.prefix), "-c",
                str(self.prefix / "nginx.conf"), "-e", "stderr", "-g", "daemon off;"]

    def is_ready(self) -> bool:
        status, _, _ = http_get(f"{self.url}/health/")
        return status == 200

    def log_position(self) -> int:
        """Where the access log ends now: pass it to :meth:`request_times` to read what
        follows."""
        return self.access_log.stat().st_size

    def request_times(self, uri: str, since: int = 0) -> list[float]:
        """nginx's own time (ms) for each request of ``uri`` logged after byte ``since`` of
        the access log: from the request's first byte to the response's last, measured in
        the server, so a busy client does not stretch it (millisecond resolution)."""
        with open(self.access_log, "rb") as f:
            f.seek(since)
            chunk = f.read().decode("utf-8", "replace")
        out = []
        for line in chunk[:chunk.rfind("\n") + 1].splitlines():
            parts = line.split()
            if len(parts) == 5 and parts[4] == uri:
                out.append(float(parts[3]) * 1000)
        return out

    def stats(self) -> dict[str, int]:
        """Cumulative microcache hits and misses, read from the access log."""
        try:
            with open(self.access_log) as f:
                f.seek(self._log_offset)
                chunk = f.read()
        except OSError:
            chunk = ""
        complete = chunk[:chunk.rfind("\n") + 1]
        self._log_offset += len(complete.encode())
        for line in complete.splitlines():
            parts = line.split()
            if len(parts) >= 3:
                self._counts[parts[2]] += 1
        hits = sum(self._counts[s] for s in HIT_STATUSES)
        misses = self._counts["MISS"] + self._counts["EXPIRED"] + self._counts["BYPASS"]
        return {"hits": hits, "misses": misses}
