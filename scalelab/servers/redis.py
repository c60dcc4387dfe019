"""Redis: a cache server on loopback, no persistence, with its own hit/miss counters."""

from __future__ import annotations

import redis as redis_client

from scalelab.servers.base import HOST, Service


class Redis(Service):
    name = "redis"
    component = "cache"
    binary = "redis"

    def __init__(self, run, cpus=None, port=None, maxmemory_mb: int | None = None,
                 log_name: str | None = None):
        super().__init__(run, cpus, port, log_name)
        if maxmemory_mb is not None and maxmemory_mb < 1:
            raise ValueError(f"maxmemory_mb must be 1 or more, not {maxmemory_mb}")
        self.maxmemory_mb = maxmemory_mb

    def command(self) -> list[str]:
        command = [str(self.found.path()), "--bind", HOST, "--port", str(self.port),
                   "--save", "", "--appendonly", "no", "--daemonize", "no",
                   "--protected-mode", "yes", "--dir", "/", "--loglevel", "warning"]
        if self.maxmemory_mb:
            command += ["--maxmemory", f"{self.maxmemory_mb}mb",
                        "--maxmemory-policy", "allkeys-lru"]
        return command

    @property
    def location(self) -> str:
        """What Django's cache settings call LOCATION for this server."""
        return f"redis://{HOST}:{self.port}/0"

    url = location

    def client(self) -> redis_client.Redis:
        return redis_client.Redis(host=HOST, port=self.port, socket_timeout=2)

    def is_ready(self) -> bool:
        with self.client() as c:
            return bool(c.ping())

    def stats(self) -> dict[str, int]:
        """Cumulative hits, misses and keys, from the server's own INFO."""
        with self.client() as c:
            info = c.info("stats")
            keys = c.dbsize()
        return {"hits": int(info["keyspace_hits"]), "misses": int(info["keyspace_misses"]),
                "keys": int(keys)}
