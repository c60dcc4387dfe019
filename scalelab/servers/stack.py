"""A Stack: the servers of one configuration of the lab, started together, stopped together.

    with Stack(workers=2, cache="redis") as stack:
        stack.base_url        # http://127.0.0.1:<port>
        stack.services        # {"db": Postgres, "cache": Redis, "app": Gunicorn}

The data set (``questions``, ``seed``) is seeded once per size into its own database of a
cluster kept between runs, so a warm start only starts the servers.
"""

from __future__ import annotations

import contextlib
import math
import secrets
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

from scalelab.plumbing import binaries, paths
from scalelab.plumbing.kernel import in_notebook_kernel as _in_notebook_kernel
from scalelab.plumbing.cpus import CpuLayout, default_layout
from scalelab.plumbing.runs import Run, check_label
from scalelab.plumbing.hosts import Host, HostError
from scalelab.plumbing.hosts import support as hosts_support
from scalelab.plumbing.processes import interrupts_deferred
from scalelab.servers import (AppConfig, Gunicorn, Memcached, Nginx, PgBouncer, Postgres, PostgresReplica, Redis, Service, SlowUpstream, Uvicorn)
from scalelab.servers.dataset import Dataset
from scalelab.servers.base import free_port
from scalelab.servers.stack_config import StackConfig

CACHE_SERVICES = {"redis": Redis, "memcached": Memcached}  # cache server name -> its module
REPLAYED_URL = "http://127.0.0.1:0"  # what a stand-in stack names: nothing listens
_STAND_IN: dict[str, CpuLayout | None] = {"layout": None}


def check_host_cores(config: StackConfig, layout: CpuLayout) -> None:
    """Hosts must not compete for the server CPUs: their quotas together stay within them."""
    total, have = config.host_cores(), len(layout.server)
    if total > have:
        raise ValueError(f"hosts take {total:g} cores together ({config.hosts}, with "
                         f"{config.replicas} app server(s)), more than the {have} server "
                         f"CPU(s) of the layout give: hosts would compete for the CPU")


def stand_in(layout: CpuLayout | None) -> CpuLayout | None:
    """From now on, a stack's ``start()`` starts nothing and takes ``layout``: recorded rows
    stand in for its servers (reference mode sets it). None: stacks start servers again.
    Returns the layout set before."""
    before, _STAND_IN["layout"] = _STAND_IN["layout"], layout
    return before


_LIVE: dict[int, "Stack"] = {}  # every started, not yet stopped stack of this process
FRONT = ("pooler", "app", "proxy")  # services ``reconfigure`` restarts (and app-2, app-3, ...)
# what a running stack keeps: the servers started beside the database
FIXED_AT_START = ("cache", "cache_servers", "upstream", "read_replica", "hosts")


class Stack:
    """PostgreSQL and the app server (gunicorn or uvicorn), plus what the configuration asks
    for: Redis and/or memcached (``cache``, ``cache_servers``), nginx in front (``proxy``,
    ``microcache_ttl``, ``gzip``), the slow upstream (``upstream``), PgBouncer between the
    app and PostgreSQL (``pooler``, ``pool_size``), streaming standbys the app reads from
    (``read_replica``: True for one, or up to three); static
    files served by Django, WhiteNoise or nobody (``static``; with "none", nginx in front serves
    them, otherwise it passes /static/ to the app). All on loopback, all pinned to the server
    CPUs of ``layout``; every bad parameter is refused before anything starts."""

    def __init__(self, workers: int = 1, worker_class: str = "sync", threads: int = 1,
                 server: str = "gunicorn", cache: str = "none", session: str = "db",
                 questions: int = 10_000, seed: int = 42, conn_max_age: int = 60,
                 db_pool: bool = False, static: str = "django", cache_timeout: int = 60,
                 layout: CpuLayout | None = None, pg_settings: dict | None = None,
                 cache_servers: tuple[str, ...] = (), cache_middleware: bool = False,
                 proxy: str | None = None, microcache_ttl: int = 0, upstream: bool = False,
                 gzip: bool = False, replicas: int = 1, balance: str = "round_robin",
                 retry_post: bool = False, read_replica: bool | int = False,
                 read_your_writes_s: int = 0, pooler: str | None = None, pool_size: int = 4,
                 middleware: str = "full", python: str = "", hosts: dict | None = None,
                 label: str = "stack"):
        self.config = StackConfig(
            workers=workers, worker_class=worker_class, threads=threads, server=server,
            cache=cache, session=session, questions=questions, seed=seed,
            conn_max_age=conn_max_age, db_pool=db_pool, static=static,
            cache_timeout=cache_timeout, pg_settings=pg_settings, cache_servers=cache_servers,
            cache_middleware=cache_middleware, proxy=proxy, microcache_ttl=microcache_ttl,
            gzip=gzip, upstream=upstream, replicas=replicas, balance=balance,
            retry_post=retry_post, read_replica=read_replica,
            read_your_writes_s=read_your_writes_s, pooler=pooler, pool_size=pool_size,
            middleware=middleware, python=python, hosts=hosts or {})
        check_label(label)
        if layout is not None and not isinstance(layout, CpuLayout):
            raise ValueError(f"layout must be a CpuLayout, not {type(layout).__name__}")
        check_host_cores(self.config, layout or default_layout())
        self.dataset = Dataset(questions, seed)
        self.layout = layout or default_layout()
        self.label = label
        self.run: Run | None = None
        self.services: dict[str, Service] = {}
        self.hosts: dict[str, Host] = {}  # the scale model's host of each service, by its key
        self.timings: dict[str, float] = {}
        self.replayed = False  # reference mode: started nothing, shows the recorded run
        self._wiring: dict[str, Any] = {}  # what the front needs of the servers behind it
        self._moving_in: list[str] | None = None  # servers ``start`` puts in hosts at its end

    # -- life cycle -----------------------------------------------------------------------
    def start(self) -> "Stack":
        """Start every server (or nothing, if one fails). In a notebook kernel, a live stack
        of this process with the same label is stopped first: running a cell again replaces
        its stack instead of leaving the old one running out of reach."""
        if self.run is not None or self.replayed:
            return self
        if _STAND_IN["layout"] is not None:  # recorded rows stand in for the servers
            self.replayed = True
            self.layout = _STAND_IN["layout"]
            return self
        if _in_notebook_kernel():
            for other in [st for st in _LIVE.values() if st.label == self.label]:
                print(f"scalelab: stopping the earlier stack {other!r} (label {self.label!r}); "
                      "this one replaces it", file=sys.stderr)
                other.stop()
        t_start = time.perf_counter()
        self._check_binaries()  # every binary before any server starts
        self._check_hosts_possible()
        self.run = Run.create(self.label)
        _LIVE[id(self)] = self
        self._moving_in = []
        try:
            cpus = self.layout.server
            db = self._start_db()
            replica_ports = []
            for n in range(1, int(self.config["read_replica"]) + 1):
                # each copied from the primary once the data is in it
                key = "replica" if n == 1 else f"replica-{n}"
                replica_ports.append(
                    self._start(key, PostgresReplica(self.run, db, cpus=cpus, number=n)).port)
            locations = {}
            for kind in self.config["cache_servers"]:
                server = CACHE_SERVICES[kind](self.run, cpus=cpus)
                self._start(kind, server)
                locations[kind] = server.location
            upstream_url = ""
            if self.config["upstream"]:
                self._start("upstream", SlowUpstream(self.run, cpus=cpus))
                upstream_url = self.services["upstream"].url
            self._wiring = {"locations": locations, "upstream_url": upstream_url,
                            "replica_ports": tuple(replica_ports)}
            self._start_front()
            self._move_into_hosts()
        except BaseException:
            self._moving_in = None
            self.stop()
            raise
        self.timings["start_s"] = time.perf_counter() - t_start
        return self

    def _start_db(self, cluster: str | None = None) -> Postgres:
        """PostgreSQL with the configuration's settings (on ``cluster``, or the first free
        one), the data set seeded in it (once), any index an interrupted experiment dropped
        put back."""
        db = Postgres(self.run, cpus=self.layout.server, settings=self.config["pg_settings"],
                      cluster=cluster)
        self._start("db", db)
        self._ensure_data()
        return db

    def _ensure_data(self) -> None:
        db = self.services["db"]
        t = time.perf_counter()
        seeded = self.dataset.ensure_seeded(db, self.run.logs / "seed.log")
        self.timings["seed_s"] = time.perf_counter() - t if seeded else 0.0
        self.dataset.restore_indexes(db)
        self.dataset.enable_statement_stats(db)

    def _start_front(self) -> None:
        """What stands between the database and the visitor: the pooler, the app servers,
        nginx. Started by ``start`` and again by ``reconfigure``."""
        cpus, wiring, db = self.layout.server, self._wiring, self.services["db"]
        db_port = db.port
        if self.config["pooler"] == "pgbouncer":
            self._start("pooler", PgBouncer(self.run, db.port, cpus=cpus,
                                            pool_size=self.config["pool_size"]))
            db_port = self.services["pooler"].port
        locations = wiring["locations"]
        app = AppConfig(db_port=db_port, db_name=self.dataset.db_name,
                        db_pgbouncer=self.config["pooler"] == "pgbouncer",
                        cache_middleware=self.config["cache_middleware"],
                        redis_location=locations.get("redis", ""),
                        memcached_location=locations.get("memcached", ""),
                        upstream_url=wiring["upstream_url"],
                        replica_ports=wiring["replica_ports"],
                        read_your_writes_s=self.config["read_your_writes_s"],
                        conn_max_age=self.config["conn_max_age"],
                        db_pool=self.config["db_pool"], cache=self.config["cache"],
                        cache_location=locations.get(self.config["cache"], ""),
                        cache_timeout=self.config["cache_timeout"],
                        session=self.config["session"], static=self.config["static"],
                        middleware=self.config["middleware"],
                        secret_key=secrets.token_urlsafe(40))
        replicas = self.config["replicas"]
        for i in range(replicas):
            # each replica on a port of its own, fixed: one that crashed comes back on it
            name = "" if replicas == 1 else f"-{i + 1}"
            port = None if replicas == 1 else free_port()
            if self.config["server"] == "gunicorn":
                server: Service = Gunicorn(self.run, app, cpus=cpus, port=port,
                                           workers=self.config["workers"],
                                           worker_class=self.config["worker_class"],
                                           threads=self.config["threads"],
                                           python=self.config["python"],
                                           log_name=f"gunicorn{name}")
            else:
                server = Uvicorn(self.run, app, cpus=cpus, port=port,
                                 workers=self.config["workers"], log_name=f"uvicorn{name}")
            self._start("app" if i == 0 else f"app{name}", server)
        if self.config["proxy"] == "nginx":
            self._start("proxy", Nginx(self.run, cpus=cpus,
                                           upstream_port=[r.port for r in self.replicas],
                                           microcache_ttl=self.config["microcache_ttl"],
                                           gzip=self.config["gzip"],
                                           serve_static=self.config["static"] == "none",
                                           balance=self.config["balance"],
                                           retry_post=self.config["retry_post"]))
        for key in [k for k in self.hosts if k not in self.services]:
            self.hosts.pop(key).remove()  # an app server fewer than before: its host goes

    def _start(self, key: str, service: Service) -> Service:
        """Start ``service`` as ``self.services[key]``, in a host of its own when the
        configuration gives its component one (the scale model)."""
        cores = self.config["hosts"].get(service.component)
        if cores is not None:
            if key not in self.hosts:
                self.hosts[key] = Host(key, cores).create(self.run.id)
            if self._moving_in is None:
                service.host = self.hosts[key]
            else:
                self._moving_in.append(key)
        self.services[key] = service.start()
        return service

    @contextlib.contextmanager
    def outside_hosts(self) -> Iterator["Stack"]:
        """For the block, every server out of its host, at full speed (connections opened,
        caches warmed: set-up the model does not measure); back in its host after."""
        for host in self.hosts.values():
            host.release()
        try:
            yield self
        finally:
            for key, host in self.hosts.items():
                service = self.services.get(key)
                if service is not None and service.pid is not None:
                    host.adopt(service.pid)

    def _move_into_hosts(self) -> None:
        """Every server started by ``start`` into its host, once all are ready: the copies
        of the data (seeding, a standby's base backup) run at full speed, not at a host's."""
        keys, self._moving_in = self._moving_in or [], None
        for key in keys:
            service = self.services[key]
            service.host = self.hosts[key]
            service.host.adopt(service.pid)

    def reconfigure(self, **changes) -> "Stack":
        """Change some settings of a running stack and restart only what they touch: the
        pooler, app servers and nginx for their own settings; PostgreSQL too for
        ``pg_settings`` (its data stays); another data set for ``questions`` or ``seed``
        (seeded once, like at start). In the scale model, what restarts starts at full speed
        and goes into its host once ready, as at start. Caches, the upstream and a read replica
        stay as they are and cannot be changed here. Checked before anything stops; if a restart fails,
        the whole stack is stopped, keeps its last working configuration (so ``start()``
        brings that back) and the error is raised. Returns the stack."""
        new = self.config.replace(**changes)
        check_host_cores(new, self.layout)
        fixed = [k for k in FIXED_AT_START if new[k] != self.config[k]]
        if fixed:
            raise ValueError(f"{', '.join(fixed)} cannot change on a running stack: start "
                             f"another Stack (changeable: everything but {', '.join(FIXED_AT_START)})")
        if new["pg_settings"] != self.config["pg_settings"] and new["read_replica"]:
            raise ValueError("pg_settings cannot change on a stack with a read replica")
        dataset = Dataset(new["questions"], new["seed"])
        self._check_binaries(new)
        if new == self.config:
            return self
        if self.run is None or self.replayed:
            self.config, self.dataset = new, dataset
            return self
        working = self.config, self.dataset
        self._moving_in = []  # restarted at full speed, then into their hosts, as at start
        try:
            for key in [k for k in reversed(list(self.services)) if k in FRONT
                        or k.startswith("app-")]:
                self.services.pop(key).stop()
            restart_db = new["pg_settings"] != self.config["pg_settings"]
            new_data = dataset != self.dataset
            self.config, self.dataset = new, dataset
            if restart_db:
                old = self.services.pop("db")
                old.stop()
                db = self._start_db(cluster=old.cluster)
                # keep the order start() gives: the database first
                self.services = {"db": db, **{k: v for k, v in self.services.items()
                                              if k != "db"}}
            elif new_data:
                self._ensure_data()
            self._start_front()
            self._move_into_hosts()
        except BaseException:
            self._moving_in = None
            self.stop()
            self.config, self.dataset = working  # the next start() is the last that worked
            raise
        return self

    def _check_hosts_possible(self) -> None:
        """Hosts asked for where none can be made: refused with the reason, before any
        server starts."""
        if self.config["hosts"]:
            can, why = hosts_support()
            if not can:
                raise HostError(f"hosts={self.config['hosts']} cannot be made here: {why}")

    def _check_binaries(self, config: StackConfig | None = None) -> None:
        """Raise MissingBinary naming every server the configuration needs and lacks."""
        config = config or self.config
        needed = ["postgresql", *config["cache_servers"]]
        if config["proxy"] == "nginx":
            needed.append("nginx")
        if config["pooler"]:
            needed.append(config["pooler"])
        missing = [f for f in (binaries.find(n) for n in needed) if not f.ok]
        if missing:
            raise binaries.MissingBinary(binaries.missing_message(missing))

    def stop(self) -> None:
        """Stop every server, last started first; a Ctrl-C meanwhile waits until they are."""
        self.replayed = False
        with interrupts_deferred("stopping the stack's servers"):
            for host in self.hosts.values():
                host.release()  # shutting down (a checkpoint) is not what the model measures
            for key in reversed(list(self.services)):
                self.services[key].stop()
            self.services = {}
            for host in self.hosts.values():
                host.remove()
            self.hosts = {}
            if self.run is not None:
                self.run.close()
                self.run = None
            _LIVE.pop(id(self), None)

    @staticmethod
    def start_together(stacks: dict[str, "Stack"]) -> dict[str, "Stack"]:
        """Start every stack of ``stacks`` in turn (a notebook comparing ways to run the app);
        if one fails, the ones started are stopped and the error raised."""
        try:
            for stack in stacks.values():
                stack.start()
        except BaseException:
            Stack.stop_together(stacks)
            raise
        return stacks

    @staticmethod
    def stop_together(stacks: dict[str, "Stack"]) -> None:
        for stack in stacks.values():
            stack.stop()

    @staticmethod
    def running() -> list["Stack"]:
        """Every stack this process started and has not stopped."""
        return list(_LIVE.values())

    @staticmethod
    def stop_all() -> int:
        """Stop every stack this process started (e.g. a notebook's, whatever its variables
        now hold); return how many were running."""
        live = list(_LIVE.values())
        for stack in live:
            stack.stop()
        return len(live)

    def __enter__(self) -> "Stack":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- what notebooks and the load generator need ---------------------------------------
    def _url_of(self, *names: str) -> str:
        """The URL of the first of ``names`` that runs (a stand-in names nothing that listens)."""
        if self.replayed:
            return REPLAYED_URL
        if "app" not in self.services:
            raise RuntimeError("the stack is not running: use `with Stack(...) as stack:`")
        return next(self.services[n].url for n in names if n in self.services)

    @property
    def base_url(self) -> str:
        """Where users go: the proxy when there is one, else the app server."""
        return self._url_of("proxy", "app")

    @property
    def app_url(self) -> str:
        """The app server itself, bypassing any proxy."""
        return self._url_of("app")

    def counters(self) -> dict:
        """Cumulative counters of the servers' own statistics, by name: cache hits and misses
        (redis, memcached, nginx) and statement calls (db, with pg_stat_statements)."""
        out = {svc.name: svc.stats for svc in self.services.values() if hasattr(svc, "stats")}
        if "db" in self.services:
            out["db"] = self.statement_calls
        return out

    def statement_calls(self) -> dict[str, float]:
        """Statement calls in the data set's database (see ``Dataset.statement_calls``)."""
        return self.dataset.statement_calls(self.db)

    @property
    def replica(self) -> PostgresReplica:
        """The database's read replica (``read_replica=True``)."""
        if "replica" not in self.services:
            raise RuntimeError("this stack has no read replica: Stack(read_replica=True)")
        return self.services["replica"]

    @property
    def standbys(self) -> list[PostgresReplica]:
        """Every read replica of the database, in order (``read_replica=3``: three)."""
        return [svc for key, svc in self.services.items()
                if key == "replica" or key.startswith("replica-")]

    @property
    def replicas(self) -> list[Service]:
        """The app servers, in order (one unless ``replicas`` asked for more)."""
        return [svc for key, svc in self.services.items()
                if key == "app" or key.startswith("app-")]

    def crash_replica(self, n: int) -> None:
        """Kill app server ``n`` (1-based) and its workers at once, as a crash would."""
        self._replica(n).crash()

    def restore_replica(self, n: int) -> None:
        """Start app server ``n`` again, on its port: nginx finds it there again."""
        self._replica(n).start()

    def _replica(self, n: int) -> Service:
        if self.run is None:
            raise RuntimeError("the stack is not running: use `with Stack(...) as stack:`")
        reps = self.replicas
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= len(reps):
            raise ValueError(f"n must be an app server from 1 to {len(reps)}, not {n!r}")
        return reps[n - 1]

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

    def host_roots(self) -> dict[str, tuple[list[int], float]]:
        """The scale model's hosts that run a server: host -> (its root pids, its cores)."""
        return {key: ([self.services[key].pid], host.cpus) for key, host in self.hosts.items()
                if key in self.services and self.services[key].pid is not None}

    def host_meters(self) -> dict[str, Callable[[], float]]:
        """The scale model's hosts whose CPU time the kernel counts for the group: host ->
        a reader of its CPU seconds so far (``Host.usage_s``)."""
        return {key: host.usage_s for key, host in self.hosts.items()
                if key in self.services and not math.isnan(host.usage_s())}

    def hosts_throttled(self) -> dict[str, int]:
        """The scale model's hosts: host -> the periods it was throttled at its quota."""
        return {key: host.throttling().get("throttled_periods", 0)
                for key, host in self.hosts.items()}

    def popularity(self) -> dict[str, list]:
        """Question ids and tags, most popular first (see ``Dataset.popularity``)."""
        return self.dataset.popularity(self.db)

    def describe(self) -> dict[str, Any]:
        return {"config": self.config.as_dict(), "dataset_db": self.dataset.db_name,
                "layout": self.layout.as_dict(),
                "hosts": {k: {"cpus": h.cpus, "cgroup": str(h.path)} for k, h in self.hosts.items()},
                "run_dir": paths.relative(self.run.dir)
                if self.run else None,
                "services": {k: s.describe() for k, s in self.services.items()},
                "timings": dict(self.timings)}

    def logs(self) -> dict[str, Path]:
        return {k: s.log_path for k, s in self.services.items()}

    def __repr__(self) -> str:
        state = ("reference mode: nothing started, the reference run's rows are shown"
                 if self.replayed else self.base_url if "app" in self.services else "stopped")
        return f"<Stack {self.config['server']} workers={self.config['workers']} " \
               f"cache={self.config['cache']} {state}>"
