"""memcached: a cache server on loopback (TCP only, no UDP), with its own hit/miss counters."""

from __future__ import annotations

from pymemcache.client.base import Client

from scalelab.servers.base import HOST, Service


class Memcached(Service):
    name = "memcached"
    component = "cache"
    binary = "memcached"

    def __init__(self, run, cpus=None, port=None, memory_mb: int = 64,
                 log_name: str | None = None):
        super().__init__(run, cpus, port, log_name)
        if not isinstance(memory_mb, int) or memory_mb < 1:
            raise ValueError(f"memory_mb must be a whole number of 1 or more, not {memory_mb!r}")
        self.memory_mb = memory_mb

    def command(self) -> list[str]:
        return [str(self.found.path()), "-l", HOST, "-p", str(self.port), "-U", "0",
                "-m", str(self.memory_mb), "-t", "1", "-c", "1024"]

    @property
    def location(self) -> str:
        """What Django's cache settings call LOCATION for this server."""
        return f"{HOST}:{self.port}"

    def client(self) -> Client:
        return Client((HOST, self.port), connect_timeout=2, timeout=2)

    def is_ready(self) -> bool:
        c = self.client()
        try:
            return bool(c.version())
        finally:
            c.close()

    def stats(self) -> dict[str, int]:
        c = self.client()
        try:
            s = c.stats()
        finally:
            c.close()
        get = lambda k: int(s.get(k.encode(), s.get(k, 0)))  # noqa: E731
        return {"hits": get("get_hits"), "misses": get("get_misses"),
                "keys": get("curr_items")}
