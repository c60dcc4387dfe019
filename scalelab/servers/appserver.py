"""The Django app under gunicorn (WSGI) or uvicorn (ASGI).

Both read the app's settings from QA_* variables (``AppConfig.env``) and are ready when
``/health/`` answers 200 and every worker process is up.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field, replace
from importlib import metadata

import psutil

from scalelab.plumbing import paths
from scalelab.plumbing.checks import check_choice, check_int
from scalelab.plumbing.http import http_get
from scalelab.plumbing.processes import ServiceError, wrap_command
from scalelab.servers import app_runtime
from scalelab.servers.base import HOST, Service
from scalelab.servers.password import lab_password

WORKER_CLASSES = ("sync", "gthread")
WORKERS = (1, 64)  # allowed worker processes (and threads per worker, below)
THREADS = (1, 64)
CACHES = ("none", "locmem", "redis", "memcached", "db")
SESSIONS = ("db", "cache", "cached_db", "signed_cookies")
STATIC_MODES = ("django", "whitenoise", "none")
MIDDLEWARE = ("full", "minimal")


@dataclass
class AppConfig:
    """What the app is told through its environment."""

    db_host: str = HOST
    db_port: int = 5432
    db_name: str = "qa"
    db_user: str = "scalelab"
    db_password: str | None = None  # None: the lab's (servers/password.py)
    conn_max_age: int = 60
    db_pool: bool = False
    db_pgbouncer: bool = False    # the database port is PgBouncer's (transaction pooling)
    cache: str = "none"
    cache_location: str = ""
    cache_timeout: int = 60
    session: str = "db"
    static: str = "django"
    middleware: str = "full"      # minimal: only the query counter (notebook 08)
    static_root: str = ""         # whitenoise: where collectstatic puts the files it serves
    secret_key: str = ""
    cache_middleware: bool = False
    redis_location: str = ""      # every cache server started becomes an alias of its own
    memcached_location: str = ""
    upstream_url: str = ""
    replica_ports: tuple[int, ...] = ()  # read replicas of the database (none: no router)
    read_your_writes_s: int = 0   # after a write, the visitor reads from the primary this long
    extra: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        env = {
            "DJANGO_SETTINGS_MODULE": "qa_site.settings",
            "QA_DEBUG": "0",
            "QA_DB": "postgres",
            "QA_DB_HOST": self.db_host,
            "QA_DB_PORT": str(self.db_port),
            "QA_DB_NAME": self.db_name,
            "QA_DB_USER": self.db_user,
            "QA_DB_PASSWORD": lab_password() if self.db_password is None else self.db_password,
            "QA_DB_CONN_MAX_AGE": str(self.conn_max_age),
            "QA_DB_POOL": "1" if self.db_pool else "0",
            "QA_DB_PGBOUNCER": "1" if self.db_pgbouncer else "0",
            "QA_CACHE": self.cache,
            "QA_CACHE_LOCATION": self.cache_location,
            "QA_CACHE_TIMEOUT": str(self.cache_timeout),
            "QA_CACHE_MIDDLEWARE": "1" if self.cache_middleware else "0",
            "QA_CACHE_REDIS_LOCATION": self.redis_location,
            "QA_CACHE_MEMCACHED_LOCATION": self.memcached_location,
            "QA_UPSTREAM_URL": self.upstream_url,
            "QA_SESSION_ENGINE": self.session,
            "QA_STATIC_MODE": self.static,
            "QA_MIDDLEWARE": self.middleware,
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        if self.replica_ports:
            env["QA_DB_REPLICA_PORT"] = ",".join(map(str, self.replica_ports))
            env["QA_READ_YOUR_WRITES_S"] = str(self.read_your_writes_s)
        if self.secret_key:
            env["QA_SECRET_KEY"] = self.secret_key
        if self.static_root:
            env["QA_STATIC_ROOT"] = self.static_root
        env.update(self.extra)
        return env


class _AppServer(app_runtime.RunsFromCopy, Service):
    component = "app"
    deathsig = "SIGQUIT"  # quick shutdown of the master, which takes its workers along

    def __init__(self, run, app: AppConfig, cpus=None, port=None, workers: int = 1,
                 log_name: str | None = None):
        super().__init__(run, cpus, port, log_name)
        check_int("workers", workers, *WORKERS)
        self.app = app
        self.workers = workers
        self.python = sys.executable  # as root, run from its copy (app_runtime.RunsFromCopy)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def env(self) -> dict[str, str]:
        return {**self.app.env(), **self.copy_env()}

    def cwd(self):
        return self.app_dir()

    def prepare(self) -> None:
        """As root, the runtime copy and a fresh copy of the app for the lab's user. WhiteNoise
        serves collected files: gather them (hashed names, gzip and brotli copies) into this
        run's folder (the app copy's, as root) before the server starts."""
        super().prepare()
        self.make_copy()
        if self.app.static != "whitenoise":
            return
        target = (self._app_dir or self.run.dir) / "static"
        self.app = replace(self.app, static_root=str(target))
        log = self.run.logs / "collectstatic.log"
        try:
            done = subprocess.run(wrap_command([sys.executable, "manage.py", "collectstatic",
                                                "--noinput"], cpus=self.cpus),
                                  cwd=paths.APP_DIR, env={**os.environ, **self.app.env()},
                                  capture_output=True, text=True, timeout=120)
        except subprocess.TimeoutExpired:
            raise ServiceError(f"collectstatic did not finish within 120 s (log: {log})") from None
        log.write_text(done.stdout + done.stderr)
        if done.returncode != 0:
            tail = "\n".join((done.stdout + done.stderr).splitlines()[-15:])
            raise ServiceError(f"collectstatic failed ({done.returncode}); its log {log} ends:\n"
                               f"{tail}")

    def stop(self) -> None:
        """Kill the server's process group at once. Between two measurements an app server
        holds no request and nothing to save (its log lines are written as they happen), and
        a quick shutdown costs gunicorn two thirds of a second, once per configuration
        measured."""
        self._end(graceful=False)
        self.remove_copy()

    def worker_pids(self) -> list[int]:
        if self.pid is None:
            return []
        try:
            return [p.pid for p in psutil.Process(self.pid).children(recursive=True)
                    if "python" in (p.name() or "").lower()
                    or "gunicorn" in (p.name() or "").lower()]
        except psutil.Error:
            return []

    def is_ready(self) -> bool:
        status, _, _ = http_get(f"{self.url}/health/")
        return status == 200 and len(self.worker_pids()) >= self.workers


class Gunicorn(_AppServer):
    name = "gunicorn"

    def __init__(self, run, app: AppConfig, cpus=None, port=None, workers: int = 1,
                 worker_class: str = "sync", threads: int = 1, python: str = "",
                 log_name: str | None = None):
        super().__init__(run, app, cpus, port, workers, log_name)
        check_choice("worker_class", worker_class, WORKER_CLASSES)
        self.python = python or sys.executable  # another interpreter's venv (notebook 08)
        check_int("threads", threads, *THREADS)
        if threads > 1 and worker_class == "sync":
            worker_class = "gthread"  # what gunicorn itself does with --threads > 1
        self.worker_class = worker_class
        self.threads = threads

    @property
    def version(self) -> str:
        return metadata.version("gunicorn")

    def command(self) -> list[str]:
        return [self.interpreter(), "-m", "gunicorn", "qa_site.wsgi:application",
                "--bind", f"{HOST}:{self.port}", "--workers", str(self.workers),
                "--worker-class", self.worker_class, "--threads", str(self.threads),
                "--timeout", "60", "--graceful-timeout", "5", "--keep-alive", "5",
                "--worker-tmp-dir", "/dev/shm", "--error-logfile", "-", "--log-level", "warning",
                "--no-control-socket"]

    def describe(self):
        info = super().describe()
        info.update(workers=self.workers, worker_class=self.worker_class, threads=self.threads,
                    python=self.python)
        return info


class Uvicorn(_AppServer):
    name = "uvicorn"

    @property
    def version(self) -> str:
        return metadata.version("uvicorn")

    def command(self) -> list[str]:
        return [self.interpreter(), "-m", "uvicorn", "qa_site.asgi:application",
                "--host", HOST, "--port", str(self.port), "--workers", str(self.workers),
                "--no-access-log", "--log-level", "warning", "--timeout-graceful-shutdown", "5"]

    def is_ready(self) -> bool:
        status, _, _ = http_get(f"{self.url}/health/")
        # uvicorn with --workers 1 serves from the main process itself
        return status == 200 and (self.workers == 1 or len(self.worker_pids()) >= self.workers)

    def describe(self):
        info = super().describe()
        info.update(workers=self.workers, worker_class="asgi")
        return info
