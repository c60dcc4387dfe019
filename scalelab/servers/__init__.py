"""Floor 2, servers and stacks: one module per server, each behind the contract in
:mod:`scalelab.servers.base`, the stack that starts them together, its configuration, and
the seeded data sets."""

from scalelab.servers.appserver import AppConfig, Gunicorn, Uvicorn
from scalelab.servers.base import Service, ServiceError, free_port
from scalelab.servers.memcached import Memcached
from scalelab.servers.nginx import Nginx
from scalelab.servers.pgbouncer import PgBouncer
from scalelab.servers.postgres import Postgres
from scalelab.servers.postgres_replica import PostgresReplica
from scalelab.servers.redis import Redis
from scalelab.servers.upstream import SlowUpstream

__all__ = ["AppConfig", "Gunicorn", "Memcached", "Nginx", "PgBouncer", "Postgres", "PostgresReplica", "Redis", "Service", "SlowUpstream", "ServiceError", "Uvicorn",
           "free_port"]
