"""The configuration of a Stack, validated once (``StackConfig``): every bad parameter is
refused, by name and with what is allowed, before any server starts; the services trust it."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import asdict, dataclass, field
from typing import Any

from scalelab.plumbing.checks import check_bool, check_choice, check_int
from scalelab.plumbing.interpreters import check_app_python
from scalelab.servers.appserver import (CACHES, MIDDLEWARE, SESSIONS, STATIC_MODES, THREADS, WORKER_CLASSES, WORKERS)
from scalelab.servers.nginx import BALANCE, MICROCACHE_TTL
from scalelab.servers.pgbouncer import POOL_SIZE
from scalelab.servers.postgres import check_settings
from scalelab.servers.postgres_replica import MAX_STANDBYS

SERVERS = ("gunicorn", "uvicorn")
CACHE_SERVERS = ("redis", "memcached")
PROXIES = (None, "nginx")
POOLERS = (None, "pgbouncer")


HOSTED = ("app", "db", "replica", "cache", "proxy", "pooler", "upstream")


def check_hosts(hosts: Any) -> None:
    """``hosts``: component -> cores of each of its hosts (1/64 to the machine's cores)."""
    from scalelab.plumbing.hosts import MIN_CORES

    top = os.cpu_count() or 1
    if not isinstance(hosts, dict) or not set(hosts) <= set(HOSTED) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and MIN_CORES <= v <= top
            for v in hosts.values()):
        raise ValueError(f"hosts must be a dict of component ({', '.join(HOSTED)}) -> cores "
                         f"of its host, from 1/64 to {top}, not {hosts!r}")


@dataclass(frozen=True)
class StackConfig:
    """What runs: the app server and its workers, caches, sessions, static files, PostgreSQL
    settings, nginx in front, the slow upstream. ``config["workers"]`` reads like a dict."""

    workers: int = 1
    worker_class: str = "sync"
    threads: int = 1
    server: str = "gunicorn"
    cache: str = "none"
    session: str = "db"
    questions: int = 10_000
    seed: int = 42
    conn_max_age: int = 60
    db_pool: bool = False
    static: str = "django"
    cache_timeout: int = 60
    pg_settings: dict = field(default_factory=dict)
    cache_servers: tuple[str, ...] = ()
    cache_middleware: bool = False
    proxy: str | None = None
    microcache_ttl: int = 0
    gzip: bool = False            # nginx compresses pages, CSS and JS
    upstream: bool = False
    replicas: int = 1             # app servers behind nginx, each with ``workers`` workers
    balance: str = "round_robin"  # how nginx spreads requests over them
    retry_post: bool = False      # nginx passes a failed POST to the next app server too
    read_replica: bool | int = False  # streaming standbys of PostgreSQL (True: one; or 1 to
    #                                   MAX_STANDBYS); the app spreads its reads over them
    read_your_writes_s: int = 0   # after a write, that visitor reads from the primary this long
    pooler: str | None = None     # PgBouncer between the app and PostgreSQL (transaction mode)
    pool_size: int = 4            # the pooler's PostgreSQL connections
    middleware: str = "full"      # "minimal": only what a page that reads no session needs
    python: str = ""              # the interpreter running the app ("" = the lab's own)
    # the scale model: cores of the host each component runs in ({"app": 1/16, "db": 0.25}:
    # every app server a host of 1/16 core, PostgreSQL one of a quarter); unnamed: no host
    hosts: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._check_values()
        self._check_combinations()
        # the cache server the default cache needs is always started, listed once, first
        own = (self.cache,) if self.cache in CACHE_SERVERS else ()
        object.__setattr__(self, "cache_servers",
                           tuple(dict.fromkeys(own + tuple(self.cache_servers))))
        object.__setattr__(self, "pg_settings", dict(self.pg_settings or {}))
        object.__setattr__(self, "hosts", dict(self.hosts or {}))

    def _check_values(self) -> None:
        check_choice("server", self.server, SERVERS)
        check_choice("worker_class", self.worker_class, WORKER_CLASSES)
        check_choice("cache", self.cache, CACHES)
        check_choice("proxy", self.proxy, PROXIES)
        check_choice("session", self.session, SESSIONS)
        check_choice("static", self.static, STATIC_MODES)
        check_choice("balance", self.balance, BALANCE)
        check_choice("pooler", self.pooler, POOLERS)
        check_choice("middleware", self.middleware, MIDDLEWARE)
        if not isinstance(self.python, str) or (self.python and not (
                os.path.isfile(self.python) and os.access(self.python, os.X_OK))):
            raise ValueError(f"python must be '' (the lab's own) or the path of an "
                             f"interpreter with the app's packages, not {self.python!r}")
        if self.python:
            check_app_python(self.python)
        for name, (low, high) in (("workers", WORKERS), ("threads", THREADS),
                                  ("conn_max_age", (0, 86400)), ("cache_timeout", (0, 86400)),
                                  ("microcache_ttl", MICROCACHE_TTL), ("replicas", (1, 16)),
                                  ("read_your_writes_s", (0, 3600)),
                                  ("pool_size", POOL_SIZE)):
            check_int(name, getattr(self, name), low, high)
        for name in ("db_pool", "cache_middleware", "upstream", "gzip", "retry_post"):
            check_bool(name, getattr(self, name))
        if not isinstance(self.read_replica, bool) and not (
                isinstance(self.read_replica, int) and 0 <= self.read_replica <= MAX_STANDBYS):
            raise ValueError(f"read_replica must be True, False or a number of standbys from "
                             f"0 to {MAX_STANDBYS}, not {self.read_replica!r}")
        cs = self.cache_servers
        if isinstance(cs, str) or not isinstance(cs, (tuple, list)) \
                or not set(cs) <= set(CACHE_SERVERS):
            raise ValueError(f"cache_servers must be a tuple of {', '.join(CACHE_SERVERS)}, "
                             f"not {cs!r}")
        pg = self.pg_settings
        if pg is not None and not (isinstance(pg, dict) and all(
                isinstance(k, str) and isinstance(v, (str, int, float)) and not isinstance(v, bool)
                for k, v in pg.items())):
            raise ValueError(f"pg_settings must be a dict of setting name -> value, not {pg!r}")
        check_settings(pg or {})
        check_hosts(self.hosts)

    def host_cores(self) -> float:
        """The cores every host of this configuration takes together (``hosts``)."""
        count = {"app": self.replicas, "cache": len(self.cache_servers),
                 "replica": int(self.read_replica), "proxy": int(self.proxy is not None),
                 "pooler": int(self.pooler is not None), "upstream": int(self.upstream)}
        return sum(cores * count.get(component, 1) for component, cores in self.hosts.items())

    def _check_combinations(self) -> None:
        if self.microcache_ttl and self.proxy is None:
            raise ValueError("microcache_ttl needs proxy='nginx'")
        if self.replicas > 1 and self.proxy is None:
            raise ValueError(f"replicas={self.replicas} needs a balancer in front: "
                             "proxy='nginx'")
        if (self.balance != "round_robin" or self.retry_post) and self.proxy is None:
            raise ValueError("balance and retry_post are nginx's: they need proxy='nginx'")
        if self.read_your_writes_s and not self.read_replica:
            raise ValueError("read_your_writes_s needs read_replica=True: without a replica "
                             "every read is the primary's")
        if self.gzip and self.proxy is None:
            raise ValueError("gzip is nginx's: it needs proxy='nginx'")
        if self.middleware == "minimal" and (self.cache_middleware or self.read_replica
                                             or self.session != "db"):
            raise ValueError("middleware='minimal' runs no session, cache or replica "
                             "middleware: not with cache_middleware, read_replica or sessions")
        if self.cache_middleware and self.cache == "none":
            raise ValueError("cache_middleware=True needs a cache (cache='redis', ...)")
        if self.pooler and self.db_pool:
            raise ValueError("pooler='pgbouncer' and db_pool=True: choose one pool")
        if self.pooler and self.read_replica:
            raise ValueError("pooler='pgbouncer' pools the primary only: not with "
                             "read_replica=True")
        if self.db_pool and self.conn_max_age:
            raise ValueError("db_pool=True needs conn_max_age=0 (the pool replaces persistent "
                             "connections)")
        if self.session in ("cache", "cached_db") and self.cache == "none":
            raise ValueError(f"session={self.session!r} needs a cache: set cache='redis' or "
                             "'locmem'")
        if self.python and self.server != "gunicorn":
            raise ValueError("python applies to gunicorn only")
        if self.server == "uvicorn" and (self.worker_class != "sync" or self.threads != 1):
            raise ValueError("worker_class and threads apply to gunicorn only; uvicorn runs "
                             "ASGI workers")

    def replace(self, **changes) -> "StackConfig":
        """A copy with ``changes``, checked like any configuration (unknown names refused)."""
        unknown = sorted(set(changes) - set(self.__dataclass_fields__))
        if unknown:
            raise ValueError(f"unknown stack setting(s) {', '.join(unknown)}; known: "
                             f"{', '.join(self.__dataclass_fields__)}")
        return dataclasses.replace(self, **changes)

    def __getitem__(self, key: str) -> Any:
        if key not in self.__dataclass_fields__:
            raise KeyError(key)
        return getattr(self, key)

    def __contains__(self, key: str) -> bool:
        return key in self.__dataclass_fields__

    def as_dict(self) -> dict:
        return asdict(self)
