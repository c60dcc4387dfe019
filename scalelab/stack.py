"""A Stack: the servers of one configuration of the lab, started together, stopped together.

    with Stack(workers=2, cache="redis") as stack:
        stack.base_url        # http://127.0.0.1:<port>
        stack.services        # {"db": Postgres, "cache": Redis, "app": Gunicorn}

The data set (``questions``, ``seed``) is seeded once per size into its own database of a
cluster kept between runs, so a warm start only starts the servers.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import binaries, paths
from .cpus import CpuLayout, default_layout
from .runs import Run
from .services import (AppConfig, Gunicorn, Memcached, Nginx, Postgres, Redis, Service,
                       ServiceError, SlowUpstream, Uvicorn)
from .services.appserver import CACHES, SESSIONS, STATIC_MODES, WORKER_CLASSES

SERVERS = ("gunicorn", "uvicorn")
CACHE_SERVERS = ("redis", "memcached")
PROXIES = (None, "nginx")
MAX_QUESTIONS = 2_000_000
SEED_TIMEOUT = 900


def _format_version() -> int:
    sys.path.insert(0, str(paths.APP_DIR))
    try:
        from qa.seeding import FORMAT_VERSION  # the app's own constant, no Django needed
    finally:
        sys.path.remove(str(paths.APP_DIR))
    return FORMAT_VERSION


@dataclass(frozen=True)
class Dataset:
    """A seeded data set: its size and seed name a database of its own."""

    questions: int = 10_000
    seed: int = 42

    def __post_init__(self) -> None:
        if isinstance(self.questions, bool) or not isinstance(self.questions, int) \
                or not 1 <= self.questions <= MAX_QUESTIONS:
            raise ValueError(f"questions must be a whole number from 1 to {MAX_QUESTIONS:,}, "
                             f"not {self.questions!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a whole number 0 or more, not {self.seed!r}")

    @property
    def db_name(self) -> str:
        return f"qa_q{self.questions}_s{self.seed}_v{_format_version()}"


def _check_choice(name: str, value: Any, allowed: tuple) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(str, allowed))}, not {value!r}")


def _check_bool(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, not {value!r}")


def _check_int(name: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be a whole number from {low} to {high}, not {value!r}")


class Stack:
    """PostgreSQL and the app server (gunicorn or uvicorn), plus what the configuration asks
    for: Redis and/or memcached (``cache``, ``cache_servers``), nginx in front (``proxy``,
    ``microcache_ttl``), the slow upstream (``upstream``). All on loopback, all pinned to the
    server CPUs of ``layout``; every bad parameter is refused before anything starts."""

    def __init__(self, workers: int = 1, worker_class: str = "sync", threads: int = 1,
                 server: str = "gunicorn", cache: str = "none", session: str = "db",
                 questions: int = 10_000, seed: int = 42, conn_max_age: int = 60,
                 db_pool: bool = False, static: str = "django", cache_timeout: int = 60,
                 layout: CpuLayout | None = None, pg_settings: dict | None = None,
                 cache_servers: tuple[str, ...] = (), cache_middleware: bool = False,
                 proxy: str | None = None, microcache_ttl: int = 0, upstream: bool = False,
                 label: str = "stack"):
        _check_choice("server", server, SERVERS)
        _check_choice("worker_class", worker_class, WORKER_CLASSES)
        _check_choice("cache", cache, CACHES)
        _check_choice("proxy", proxy, PROXIES)
        _check_int("microcache_ttl", microcache_ttl, 0, 3600)
        if microcache_ttl and proxy is None:
            raise ValueError("microcache_ttl needs proxy='nginx'")
        if isinstance(cache_servers, str) or not set(cache_servers) <= set(CACHE_SERVERS):
            raise ValueError(f"cache_servers must be a tuple of {', '.join(CACHE_SERVERS)}, "
                             f"not {cache_servers!r}")
        if cache_middleware and cache == "none":
            raise ValueError("cache_middleware=True needs a cache (cache='redis', ...)")
        _check_choice("session", session, SESSIONS)
        _check_choice("static", static, STATIC_MODES)
        _check_int("workers", workers, 1, 64)
        _check_int("threads", threads, 1, 64)
        _check_int("conn_max_age", conn_max_age, 0, 86400)
        _check_int("cache_timeout", cache_timeout, 0, 86400)
        for name, value in (("db_pool", db_pool), ("cache_middleware", cache_middleware),
                            ("upstream", upstream)):
            _check_bool(name, value)
        if pg_settings is not None and not (isinstance(pg_settings, dict) and all(
                isinstance(k, str) and isinstance(v, (str, int, float)) and not isinstance(v, bool)
                for k, v in pg_settings.items())):
            raise ValueError(f"pg_settings must be a dict of setting name -> value, not "
                             f"{pg_settings!r}")
        if not isinstance(label, str) or not label:
            raise ValueError(f"label must be a non-empty string, not {label!r}")
        if layout is not None and not isinstance(layout, CpuLayout):
            raise ValueError(f"layout must be a CpuLayout, not {type(layout).__name__}")
        if db_pool and conn_max_age:
            raise ValueError("db_pool=True needs conn_max_age=0 (the pool replaces persistent "
                             "connections)")
        if session in ("cache", "cached_db") and cache == "none":
            raise ValueError(f"session={session!r} needs a cache: set cache='redis' or 'locmem'")
        if server == "uvicorn" and (worker_class != "sync" or threads != 1):
            raise ValueError("worker_class and threads apply to gunicorn only; uvicorn runs "
                             "ASGI workers")
        self.dataset = Dataset(questions, seed)
        self.config = dict(workers=workers, worker_class=worker_class, threads=threads,
                           server=server, cache=cache, session=session, questions=questions,
                           seed=seed, conn_max_age=conn_max_age, db_pool=db_pool, static=static,
                           cache_timeout=cache_timeout, pg_settings=dict(pg_settings or {}),
                           cache_servers=tuple(dict.fromkeys(
                               ((cache,) if cache in CACHE_SERVERS else ()) + tuple(cache_servers))),
                           cache_middleware=cache_middleware, proxy=proxy,
                           microcache_ttl=microcache_ttl, upstream=bool(upstream))
        self.layout = layout or default_layout()
        self.label = label
        self.run: Run | None = None
        self.services: dict[str, Service] = {}
        self.timings: dict[str, float] = {}

    # -- life cycle -----------------------------------------------------------------------
    def start(self) -> "Stack":
        if self.run is not None:
            return self
        t_start = time.perf_counter()
        self._check_binaries()  # every binary before any server starts
        self.run = Run.create(self.label)
        try:
            cpus = self.layout.server
            db = Postgres(self.run, cpus=cpus, settings=self.config["pg_settings"])
            self.services["db"] = db.start()
            t = time.perf_counter()
            seeded = self._ensure_seeded(db)
            self.timings["seed_s"] = time.perf_counter() - t if seeded else 0.0
            self._enable_statement_stats(db)
            locations = {}
            for kind in self.config["cache_servers"]:
                server = Redis(self.run, cpus=cpus) if kind == "redis" else \
                    Memcached(self.run, cpus=cpus)
                self.services[kind] = server.start()
                locations[kind] = server.url if kind == "redis" else server.location
            cache_location = locations.get(self.config["cache"], "")
            upstream_url = ""
            if self.config["upstream"]:
                self.services["upstream"] = SlowUpstream(self.run, cpus=cpus).start()
                upstream_url = self.services["upstream"].url
            app = AppConfig(db_port=db.port, db_name=self.dataset.db_name,
                            cache_middleware=self.config["cache_middleware"],
                            redis_location=locations.get("redis", ""),
                            memcached_location=locations.get("memcached", ""),
                            upstream_url=upstream_url,
                            conn_max_age=self.config["conn_max_age"],
                            db_pool=self.config["db_pool"], cache=self.config["cache"],
                            cache_location=cache_location,
                            cache_timeout=self.config["cache_timeout"],
                            session=self.config["session"], static=self.config["static"],
                            secret_key=secrets.token_urlsafe(40))
            if self.config["server"] == "gunicorn":
                server: Service = Gunicorn(self.run, app, cpus=cpus,
                                           workers=self.config["workers"],
                                           worker_class=self.config["worker_class"],
                                           threads=self.config["threads"])
            else:
                server = Uvicorn(self.run, app, cpus=cpus, workers=self.config["workers"])
            self.services["app"] = server.start()
            if self.config["proxy"] == "nginx":
                self.services["proxy"] = Nginx(self.run, upstream_port=server.port, cpus=cpus,
                                               microcache_ttl=self.config["microcache_ttl"]
                                               ).start()
        except BaseException:
            self.stop()
            raise
        self.timings["start_s"] = time.perf_counter() - t_start
        return self

    def _check_binaries(self) -> None:
        """Raise MissingBinary naming every server this configuration needs and lacks."""
        needed = ["postgresql", *self.config["cache_servers"]]
        if self.config["proxy"] == "nginx":
            needed.append("nginx")
        missing = [f for f in (binaries.find(n) for n in needed) if not f.ok]
        if missing:
            raise binaries.MissingBinary(binaries.missing_message(missing))

    def stop(self) -> None:
        for key in reversed(list(self.services)):
            self.services[key].stop()
        self.services = {}
        if self.run is not None:
            self.run.close()
            self.run = None

    def __enter__(self) -> "Stack":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- data set -------------------------------------------------------------------------
    def _ensure_seeded(self, db: Postgres) -> bool:
        """Seed the data set's database unless it is already complete; True if it seeded."""
        name = self.dataset.db_name
        if not db.ensure_database(name) and self._seed_complete(db, name):
            return False
        env = dict(os.environ)
        env.update(AppConfig(db_port=db.port, db_name=name, conn_max_age=0).env())
        log = self.run.logs / "seed.log"
        with open(log, "a") as out:
            for args in (["migrate", "--no-input", "-v", "0"], ["createcachetable"],
                         ["seed", "--questions", str(self.dataset.questions),
                          "--seed", str(self.dataset.seed), "--force"]):
                try:
                    result = subprocess.run([sys.executable, "manage.py", *args],
                                            cwd=paths.APP_DIR, env=env, stdout=out,
                                            stderr=subprocess.STDOUT, timeout=SEED_TIMEOUT)
                except subprocess.TimeoutExpired:
                    raise ServiceError(f"manage.py {args[0]} took more than {SEED_TIMEOUT} s; "
                                       f"see {log}") from None
                if result.returncode != 0:
                    tail = "\n".join(log.read_text().splitlines()[-20:])
                    raise ServiceError(f"manage.py {' '.join(args)} failed "
                                       f"(exit {result.returncode}); last lines of {log}:\n{tail}")
        return True

    @staticmethod
    def _seed_complete(db: Postgres, name: str) -> bool:
        migrations = {p.stem for p in (paths.APP_DIR / "qa" / "migrations").glob("0*.py")}
        try:
            applied = {r[0] for r in db.query(
                "SELECT name FROM django_migrations WHERE app = 'qa'", dbname=name)}
            done = db.query("SELECT count(*) FROM qa_seedinfo", dbname=name)
            cache_table = db.query("SELECT to_regclass('qa_cache_table')", dbname=name)
        except Exception:
            return False
        return migrations <= applied and done[0][0] > 0 and cache_table[0][0] is not None

    def _enable_statement_stats(self, db: Postgres) -> None:
        """pg_stat_statements in the data set's database, where the server preloads it."""
        if "shared_preload_libraries=pg_stat_statements" not in " ".join(db.command()):
            return
        db.query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements", dbname=self.dataset.db_name)

    # -- what notebooks and the load generator need ---------------------------------------
    @property
    def base_url(self) -> str:
        """Where users go: the proxy when there is one, else the app server."""
        if "app" not in self.services:
            raise RuntimeError("the stack is not running: use `with Stack(...) as stack:`")
        return self.services["proxy"].url if "proxy" in self.services else self.app_url

    @property
    def app_url(self) -> str:
        """The app server itself, bypassing any proxy."""
        if "app" not in self.services:
            raise RuntimeError("the stack is not running: use `with Stack(...) as stack:`")
        return self.services["app"].url

    def counters(self) -> dict:
        """Cumulative counters of the servers' own statistics, by name: cache hits and misses
        (redis, memcached, nginx) and statement calls (db, with pg_stat_statements)."""
        out = {}
        for name in ("redis", "memcached", "proxy"):
            if name in self.services:
                out["nginx" if name == "proxy" else name] = self.services[name].stats
        if "db" in self.services:
            out["db"] = self.statement_calls
        return out

    def statement_calls(self) -> dict[str, float]:
        """Statement calls in the data set's database: all, and the vote-counting query
        (the expensive one of the stampede experiment). Empty without pg_stat_statements."""
        try:
            row = self.db.query(
                "SELECT coalesce(sum(calls), 0), coalesce(sum(calls) FILTER (WHERE query "
                "ILIKE '%count(%qa_vote%'), 0) FROM pg_stat_statements WHERE dbid = "
                "(SELECT oid FROM pg_database WHERE datname = current_database())",
                dbname=self.dataset.db_name)[0]
        except Exception:
            return {}
        return {"statements": float(row[0]), "vote_count_queries": float(row[1])}
    @property
    def db(self) -> Postgres:
        return self.services["db"]

    @property
    def app(self) -> Service:
        return self.services["app"]

    def component_pids(self) -> dict[str, list[int]]:
        """Root pid of each server process tree, by component (app, db, cache, proxy)."""
        out: dict[str, list[int]] = {}
        for service in self.services.values():
            if service.pid is not None:
                out.setdefault(service.component, []).append(service.pid)
        return out

    def popularity(self) -> dict[str, list]:
        """Question ids by popularity (views) and tag names by use, most popular first.

        The load generator draws from these with a Zipf law, so the traffic follows the
        seeded data's own popularity.
        """
        name = self.dataset.db_name
        qids = [r[0] for r in self.db.query(
            "SELECT id FROM qa_question ORDER BY view_count DESC, id", dbname=name)]
        tags = [r[0] for r in self.db.query(
            "SELECT name FROM qa_tag ORDER BY question_count DESC, id", dbname=name)]
        return {"question_ids": qids, "tags": tags}

    def describe(self) -> dict[str, Any]:
        return {"config": self.config, "dataset_db": self.dataset.db_name,
                "layout": self.layout.as_dict(), "run_dir": paths.relative(self.run.dir)
                if self.run else None,
                "services": {k: s.describe() for k, s in self.services.items()},
                "timings": dict(self.timings)}

    def logs(self) -> dict[str, Path]:
        return {k: s.log_path for k, s in self.services.items()}

    def __repr__(self) -> str:
        state = self.base_url if "app" in self.services else "stopped"
        return f"<Stack {self.config['server']} workers={self.config['workers']} " \
               f"cache={self.config['cache']} {state}>"
