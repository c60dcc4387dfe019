"""One module per server, each behind the contract in :mod:`scalelab.services.base`."""

from .appserver import AppConfig, Gunicorn, Uvicorn
from .base import Service, ServiceError, free_port
from .memcached import Memcached
from .nginx import Nginx
from .pgbouncer import PgBouncer
from .postgres import Postgres
from .postgres_replica import PostgresReplica
from .redis import Redis
from .upstream import SlowUpstream

__all__ = ["AppConfig", "Gunicorn", "Memcached", "Nginx", "PgBouncer", "Postgres", "PostgresReplica", "Redis", "Service", "SlowUpstream", "ServiceError", "Uvicorn",
           "free_port"]
